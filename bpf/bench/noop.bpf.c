// SPDX-License-Identifier: GPL-2.0-only
/*
 * Do-nothing programs on the raw syscall tracepoints, for the kernel-overhead
 * bench only (never loaded by Peregrine). Attached, they measure the floor
 * any tp_btf syscall sensor pays on this kernel: the syscall slow path that
 * a registered sys_enter/sys_exit probe turns on for every task
 * (SYSCALL_WORK_SYSCALL_TRACEPOINT), plus one BPF program call per hit.
 * bench/kernel-overhead.mjs compares Peregrine's own programs against this.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_enter")
int BPF_PROG(noop_sys_enter, struct pt_regs *regs, long nr)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(noop_sys_exit, struct pt_regs *regs, long ret)
{
	return 0;
}
