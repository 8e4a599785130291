/*
 * tests/guests/btsmp.S: one vCPU rewrites code another keeps running, in
 * long mode (where the soft engine translates). The AP stores 1..1000 into
 * the immediate of "mov $imm, %eax" in patchme, each time waiting until
 * the BSP, which calls patchme over and over, has returned that value. A
 * translation that outlived the code it came from leaves both waiting: the
 * test then times out. Needs two vCPUs; soft engine only.
 */
#include "lib32.inc"
#include "long.inc"

#define TRAMP_ADDR 0x10000
#define PATCHES 1000
#define SPIN_LIMIT 2000000000

	.text
	.globl main
main:
	/* 0-1 GiB and 3-4 GiB (the local APIC) in 2 MiB pages, for both CPUs. */
	IDENTITY_MAP pml4, pdpt, pd0, pd3

	AP_TRAMPOLINE_COPY TRAMP_ADDR

	LONG_MODE_ENTER pml4, bsp_long

	.code64
bsp_long:
	LONG_MODE_SEGMENTS bsp_stack_top

	AP_START_CPU1 TRAMP_ADDR

	/* Call patchme until it says PATCHES, telling the AP each value seen. */
	mov $SPIN_LIMIT, %r9
2:	call patchme
	mov %eax, seen(%rip)
	cmp $PATCHES, %eax
	je 3f
	dec %r9
	jnz 2b
	lea msg_stuck(%rip), %rsi
	call puts64
	jmp reset64
3:	lea msg_done(%rip), %rsi
	call puts64
	jmp reset64

ap_long:
	LONG_MODE_SEGMENTS ap_stack_top
	mov $1, %ecx
1:	mov %ecx, patchme + 1(%rip)
	mov $SPIN_LIMIT, %r9
2:	cmp %ecx, seen(%rip)
	je 3f
	pause
	dec %r9
	jnz 2b
	lea msg_ap_stuck(%rip), %rsi
	call puts64
	jmp reset64
3:	inc %ecx
	cmp $PATCHES, %ecx
	jbe 1b
4:	cli
	hlt
	jmp 4b

/* The code the AP rewrites: its own page, nothing else on it. */
	.balign 4096
patchme:
	mov $0, %eax
	ret
	.balign 4096

/*
 * The AP trampoline, copied to TRAMP_ADDR and entered in real mode at
 * CS:IP = 0x1000:0000: straight to long mode on the BSP's page tables.
 */
	AP_TRAMPOLINE pml4, ap_long

	.section .rodata
msg_done:	.asciz "btsmp: the BSP saw all 1000 patches\n"
msg_stuck:	.asciz "btsmp: the BSP kept running old code\n"
msg_ap_stuck:	.asciz "btsmp: the AP never saw its patch run\n"

	.data
	.balign 8
seen:	.long 0

	.bss
	.balign 4096
pml4:	.space 4096
pdpt:	.space 4096
pd0:	.space 4096
pd3:	.space 4096
	.space 8192
bsp_stack_top:
	.space 8192
ap_stack_top:
