/*
 * tests/guests/hpet.S: the HPET as a guest finds and programs it. The ACPI
 * HPET table points at the block; the main counter runs at the 100 MHz its
 * capabilities advertise, measured against the ACPI PM timer; timer 2,
 * level-triggered, interrupts through IOAPIC pin 11 and holds its status bit
 * until cleared; timer 0, periodic in LegacyReplacement mode, interrupts on
 * IRQ0. Handlers never IRET (kvm-pvm cannot run a 32-bit one): each resets
 * the stack and goes on. A local APIC timer is the watchdog.
 */
#include "lib32.inc"

#define HPET 0xfed00000
#define HPET_CAP_PERIOD (HPET + 0x04)
#define HPET_CFG (HPET + 0x10)
#define HPET_STS (HPET + 0x20)
#define HPET_CNT (HPET + 0xf0)
#define HPET_CNT_HI (HPET + 0xf4)
#define HPET_T0_CFG (HPET + 0x100)
#define HPET_T0_CMP (HPET + 0x108)
#define HPET_T2_CFG (HPET + 0x140)
#define HPET_T2_CMP (HPET + 0x148)
#define CFG_ENABLE 1
#define CFG_LEG_RT 2
#define TN_LEVEL (1 << 1)
#define TN_INT_ENB (1 << 2)
#define TN_PERIODIC (1 << 3)
#define TN_VAL_SET (1 << 6)
#define TN_32MODE (1 << 8)
#define TN_ROUTE_11 (11 << 9)

#define IOAPIC 0xfec00000
#define IOAPIC_WIN (IOAPIC + 0x10)
#define RTE_LEVEL (1 << 15)
#define PM_TMR 0x608
#define PM_HZ 3579545
#define PM_TICKS_100MS 357955
#define PM_TICKS_100US 358
#define TICKS_1MS 100000 /* at 100 MHz */
#define RATE_SLACK 100000 /* 1% of 100 ms */
#define PERIODIC_IRQS 10
#define SPURIOUS_MAX 4

#define LEVEL_VECTOR 0x41
#define LEGACY_VECTOR 0x42
#define WATCHDOG_VECTOR 0x43
#define TICKS_3S 3000000000 /* the LAPIC timer at 1 GHz, divide by 1 */

	.text
	.globl main
main:
	mov $idt, %edi
	mov $exc_handler, %eax
	mov $irq_handler, %edx
	call idt_fill32
	mov $LEVEL_VECTOR, %ecx
	mov $level_handler, %eax
	call idt_gate32
	mov $LEGACY_VECTOR, %ecx
	mov $legacy_handler, %eax
	call idt_gate32
	mov $WATCHDOG_VECTOR, %ecx
	mov $watchdog_handler, %eax
	call idt_gate32
	lidt idt_desc

	mov $0x54455048, %eax /* "HPET" */
	call acpi_find_table
	test %esi, %esi
	jnz 1f
	PRINT "acpi: no HPET table\n"
	jmp acpi_poweroff
1:	PRINT "acpi: HPET table, block at "
	mov 44(%esi), %eax
	call puthex
	PRINT ", id "
	mov 36(%esi), %eax
	call puthex
	PRINT "\n"
	cmpl $HPET, 44(%esi)
	jne fail

	PRINT "period "
	mov HPET_CAP_PERIOD, %eax
	call putdec
	PRINT " fs, "
	mov HPET, %eax
	shr $8, %eax
	and $0x1f, %eax
	inc %eax
	call putdec
	PRINT " timers\n"

	/*
	 * The main counter over 100 ms of the PM timer must read 10^8 ticks a
	 * second, within 1%. Each end is a PM timer read, a counter read and a
	 * second PM read at most 100 us later: a host preemption between the two
	 * clocks' reads is retried instead of counted (at worst 0.2% of error;
	 * a port read leaves kvm for kite, which takes some 20 us).
	 */
	movl $CFG_ENABLE, HPET_CFG
	call clock_pair
	mov %ebx, %edi
	mov %esi, %ebp
	mov $PM_TMR, %dx
2:	in %dx, %eax
	sub %edi, %eax
	and $0xffffff, %eax
	cmp $PM_TICKS_100MS, %eax
	jb 2b
	call clock_pair
	mov %ebx, %eax
	sub %edi, %eax
	and $0xffffff, %eax
	mov $100000000, %ecx
	mul %ecx
	mov $PM_HZ, %ecx
	div %ecx /* %eax: the ticks 100 MHz makes in that time */
	sub %ebp, %esi /* the ticks the counter made */
	mov %esi, %ecx
	sub %eax, %ecx
	jns 3f
	neg %ecx
3:	cmp $RATE_SLACK, %ecx
	jbe 4f
	PRINT "main counter: "
	mov %esi, %eax
	call putdec
	PRINT " ticks where 100 MHz makes "
	call putdec
	PRINT "\n"
	jmp acpi_poweroff
4:	PRINT "main counter: 100 MHz against the PM timer\n"

	/* The 8259s masked, as an OS using the IOAPIC leaves them. */
	mov $0xff, %al
	out %al, $0x21
	out %al, $0xa1
	/* Local APIC on, the watchdog armed. */
	movl $0, LAPIC + 0x80
	movl $0x1ff, LAPIC + 0xf0
	movl $0xb, LAPIC + 0x3e0
	movl $WATCHDOG_VECTOR, LAPIC + 0x320
	movl $TICKS_3S, LAPIC + 0x380

	/* Timer 2: level, IOAPIC pin 11, 1 ms from now. */
	mov LAPIC + 0x20, %ebx
	and $0xff000000, %ebx /* APIC ID, where the RTE wants it */
	movl $0x10 + 2 * 11 + 1, IOAPIC
	mov %ebx, IOAPIC_WIN
	movl $0x10 + 2 * 11, IOAPIC
	movl $RTE_LEVEL | LEVEL_VECTOR, IOAPIC_WIN
	movl $TN_LEVEL | TN_INT_ENB | TN_ROUTE_11, HPET_T2_CFG
	mov HPET_CNT, %eax
	add $TICKS_1MS, %eax
	mov %eax, HPET_T2_CMP
	movl $5f, resume
	sti
5:	hlt
	jmp 5b

/*
 * level_handler: timer 2's interrupt. The in-kernel IOAPIC of kvm-pvm may
 * deliver a level-triggered vector once more (status 0, as virtio.S sees
 * too): that one gets its EOI and the wait goes on where it was.
 */
level_handler:
	mov $stack_top, %esp
	mov HPET_STS, %eax
	test %eax, %eax
	jnz 1f
	movl $0, LAPIC + 0xb0
	incl spurious
	cmpl $SPURIOUS_MAX, spurious
	ja fail
	sti
	jmp *resume
1:	PRINT "timer 2: level interrupt on IOAPIC pin 11, status "
	call puthex
	PRINT "\n"
	cmp $4, %eax
	jne fail
	movl $4, HPET_STS /* write 1 to clear: the line falls */
	movl $0, LAPIC + 0xb0 /* EOI */
	mov HPET_STS, %eax
	test %eax, %eax
	jnz fail
	PRINT "timer 2: status cleared\n"
	movl $0x10 + 2 * 11, IOAPIC
	movl $0x10000, IOAPIC_WIN /* masked again */

	/*
	 * Timer 0: periodic every 1 ms in LegacyReplacement mode, set as Linux
	 * sets it: halted, Tn_VAL_SET_CNF, the first match, then the period.
	 */
	movl $0x10 + 2 * 0 + 1, IOAPIC
	mov %ebx, IOAPIC_WIN
	movl $0x10 + 2 * 0, IOAPIC
	movl $LEGACY_VECTOR, IOAPIC_WIN
	movl $0, HPET_CFG
	movl $TN_INT_ENB | TN_PERIODIC | TN_VAL_SET | TN_32MODE, HPET_T0_CFG
	mov HPET_CNT, %eax
	mov %eax, periodic_start
	add $TICKS_1MS, %eax
	mov %eax, HPET_T0_CMP
	movl $TICKS_1MS, HPET_T0_CMP
	movl $CFG_ENABLE | CFG_LEG_RT, HPET_CFG
	movl $TICKS_3S, LAPIC + 0x380 /* the watchdog again */
	movl $6f, resume
	sti
6:	hlt
	jmp 6b

legacy_handler:
	mov $stack_top, %esp
	movl $0, LAPIC + 0xb0
	incl periodic_irqs
	cmpl $PERIODIC_IRQS, periodic_irqs
	jae 8f
	sti
	jmp 6b
	/*
	 * The tenth match is ten periods after the start: no sooner (late ones
	 * may come closer together, as the comparator keeps its own schedule).
	 */
8:	mov HPET_CNT, %eax
	movl $0, HPET_CFG
	movl $0, LAPIC + 0x380
	sub periodic_start, %eax
	cmp $PERIODIC_IRQS * TICKS_1MS, %eax
	jae 9f
	PRINT "timer 0: ten interrupts "
	call putdec
	PRINT " ticks after the start\n"
	jmp acpi_poweroff
9:	PRINT "timer 0: 10 periodic interrupts on IRQ0 in LegacyReplacement mode\n"
	jmp acpi_poweroff

/* clock_pair: %ebx = the PM timer, %esi = the main counter's low half, read together. */
clock_pair:
	push %eax
	push %edx
	mov $PM_TMR, %dx
1:	in %dx, %eax
	mov %eax, %ebx
	mov HPET_CNT, %esi
	in %dx, %eax
	sub %ebx, %eax
	and $0xffffff, %eax
	cmp $PM_TICKS_100US, %eax
	ja 1b
	pop %edx
	pop %eax
	ret

watchdog_handler:
	PRINT "watchdog: no HPET interrupt in 3 s\n"
	jmp acpi_poweroff

fail:
	PRINT "unexpected value\n"
	jmp acpi_poweroff

exc_handler:
	PRINT "exception\n"
	jmp acpi_poweroff

irq_handler:
	PRINT "unexpected interrupt\n"
	jmp acpi_poweroff

	IDT32

	.bss
	.balign 4
periodic_irqs:
	.long 0
periodic_start:
	.long 0
resume:
	.long 0
spurious:
	.long 0
