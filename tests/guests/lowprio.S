/*
 * tests/guests/lowprio.S: a lowest-priority IPI goes to the addressed CPU
 * whose TPR is lowest (SDM 11.6.2.4, as a Pentium 4 chipset chooses), not
 * to the lowest-numbered one. Both CPUs are in the logical flat
 * destination 3; the AP sits at TPR 0x20 and the BSP sends one IPI at TPR
 * 0x30 (the AP must take it) and one at TPR 0x10 (the BSP must). Interrupts
 * stay off: each CPU watches its own IRR. Needs two vCPUs; soft engine only.
 */
#include "lib32.inc"
#include "long.inc"

#define TRAMP_ADDR 0x10000
#define SIPI_VECTOR (TRAMP_ADDR >> 12)
#define SPIN_LIMIT 200000000
#define ICR_LOWEST_LOGICAL 0x900
#define IRR_40 0x220 /* vectors 0x40-0x5f */

	.text
	.globl main
main:
	IDENTITY_MAP pml4, pdpt, pd0, pd3

	AP_TRAMPOLINE_COPY TRAMP_ADDR

	LONG_MODE_ENTER pml4, bsp_long

	.code64
bsp_long:
	LONG_MODE_SEGMENTS bsp_stack_top

	mov $0xfee00000, %rdi
	movl $0x1ff, 0xf0(%rdi)
	movl $(1 << 24), 0xd0(%rdi) /* LDR: logical bit 0 */
	movl $(1 << 24), 0x310(%rdi)
	movl $0x4500, 0x300(%rdi)
	mov $100000, %ecx
1:	dec %ecx
	jnz 1b
	movl $(1 << 24), 0x310(%rdi)
	movl $(0x4600 | SIPI_VECTOR), 0x300(%rdi)
	mov $SPIN_LIMIT, %r9
2:	cmpl $0, ap_ready(%rip)
	jne 3f
	dec %r9
	jnz 2b
	jmp stuck

3:	movl $0x30, 0x80(%rdi)
	mov $0x50, %eax
	call send
	lea msg_at30(%rip), %rsi
	call puts64
	call report
	movl $0x10, 0x80(%rdi)
	mov $0x51, %eax
	call send
	lea msg_at10(%rip), %rsi
	call puts64
	call report
	jmp reset64

/* send: a lowest-priority IPI with vector EAX to logical destination 3. */
send:
	movl $(3 << 24), 0x310(%rdi)
	or $ICR_LOWEST_LOGICAL, %eax
	mov %eax, 0x300(%rdi)
	and $0xff, %eax
	mov %eax, %ecx
	ret

/* report: waits for vector ECX in the BSP's IRR or the AP's, and says which. */
report:
	mov $SPIN_LIMIT, %r9
1:	mov IRR_40(%rdi), %eax
	bt %ecx, %eax
	jc 2f
	mov ap_irr(%rip), %eax
	bt %ecx, %eax
	jc 3f
	dec %r9
	jnz 1b
	lea msg_nobody(%rip), %rsi
	jmp 4f
2:	lea msg_bsp(%rip), %rsi
	jmp 4f
3:	lea msg_ap(%rip), %rsi
4:	call puts64
	ret

stuck:
	lea msg_stuck(%rip), %rsi
	call puts64
	jmp reset64

ap_long:
	LONG_MODE_SEGMENTS ap_stack_top
	mov $0xfee00000, %rdi
	movl $0x1ff, 0xf0(%rdi)
	movl $(2 << 24), 0xd0(%rdi) /* LDR: logical bit 1 */
	movl $0x20, 0x80(%rdi)
	movl $1, ap_ready(%rip)
1:	mov IRR_40(%rdi), %eax
	mov %eax, ap_irr(%rip)
	pause
	jmp 1b

	AP_TRAMPOLINE pml4, ap_long

	.section .rodata
msg_at30:	.asciz "BSP at TPR 0x30, AP at 0x20: "
msg_at10:	.asciz "BSP at TPR 0x10, AP at 0x20: "
msg_bsp:	.asciz "the BSP took it\n"
msg_ap:		.asciz "the AP took it\n"
msg_nobody:	.asciz "nobody took it\n"
msg_stuck:	.asciz "lowprio: stuck\n"

	.data
	.balign 8
ap_ready:	.long 0
ap_irr:		.long 0

	.bss
	.balign 4096
pml4:	.skip 4096
pdpt:	.skip 4096
pd0:	.skip 4096
pd3:	.skip 4096
	.skip 4096
bsp_stack_top:
	.skip 4096
ap_stack_top:
