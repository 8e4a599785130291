/*
 * tests/guests/virtio.S: the virtio-blk disk in slot 0 driven from bare metal.
 * Checks the MMIO header, negotiates VERSION_1, sets up queue 0 with 8
 * entries, reads sector 0 by polling the used ring, then writes a known
 * pattern to sector 1 and waits for its interrupt (GSI 16, level, through the
 * IOAPIC). The host checks the image afterwards. Every failure prints its own
 * line and powers off.
 *
 * Last, code loaded by DMA: sector 2 holds `mov $0x5ec70002, %eax; ret`,
 * sector 3 the same with 0x5ec70003 (tests/run.sh). Sector 2 is read into a
 * page of its own and called a few times, so the soft engine has it decoded
 * and cached; then sector 3 is read into the same page and called. Only the
 * device writes that page: if the engine is not told of the DMA
 * (engine_ops.memory_written), the last call runs sector 2's code again and
 * prints its value.
 *
 * An interrupt with InterruptStatus 0 is tolerated a few times (EOI, wait
 * again), as Linux's vm_interrupt does: with KVM's irqfd the line's assertion
 * for request 1 is asynchronous and can land after the acknowledge. The
 * interrupt handlers carry on with the test instead of returning, because
 * kvm-pvm cannot emulate a 32-bit IRET.
 */
#include "lib32.inc"

#define VIO 0xc0000000 /* slot 0: the disk, with --no-rng */
#include "virtio_mmio.inc"
#define VIO_CAPACITY (VIO_CONFIG) /* u64, read as two halves */

#define QSIZE 8
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define SECTOR 512

#define VIRTIO_VECTOR 0x41
#define WATCHDOG_VECTOR 0x40

#define TICKS_2S 2000000000 /* at the 1 GHz APIC bus (KVM and soft), divide by 1 */
#define TICKS_3S 3000000000
#define SPIN_MAX 100000000 /* in case the timer does not count */
#define GEN_TRIES 100
#define SPURIOUS_MAX 3 /* interrupts with InterruptStatus 0 before request 2's */
#define DISK_MIN 4 /* sectors: 0 read, 1 written, 2 and 3 code */
#define CODE_CALLS 3 /* calls of sector 2's code before it is replaced */
#define PAGE 4096

	.text
	.globl main
main:
	call idt_fill
	lidt idt_desc
	movl $0, LAPIC + 0x80 /* TPR: accept every priority */
	movl $0x1ff, LAPIC + 0xf0 /* SVR: enabled, spurious vector 0xff */
	movl $LVT_MASKED, LAPIC + 0x320 /* timer LVT masked: a clock for the waits */
	movl $0xb, LAPIC + 0x3e0 /* divide by 1 */
	call probe
	call negotiate
	call queue_setup
	call read_sector0
	jmp write_sector1

/* fail_hex: ends a failure line with %eax in hex and powers off. */
fail_hex:
	call puthex
	PRINT "\n"
	jmp acpi_poweroff

/* probe: the MMIO header of slot 0 must be a version 2 block device. */
probe:
	mov VIO_MAGIC, %eax
	cmp $VIRTIO_MAGIC, %eax
	je 1f
	PRINT "virtio: bad magic "
	jmp fail_hex
1:	mov VIO_VERSION, %eax
	cmp $2, %eax
	je 2f
	PRINT "virtio: bad version "
	jmp fail_hex
2:	mov VIO_DEVICE_ID, %eax
	cmp $2, %eax
	je 3f
	PRINT "virtio: not a block device, id "
	jmp fail_hex
3:	PRINT "virtio-blk at c0000000\n"
	ret

/* negotiate: reset, VERSION_1 and nothing else, then the capacity. */
negotiate:
	movl $0, VIO_STATUS
	mov VIO_STATUS, %eax
	test %eax, %eax
	jz 1f
	PRINT "virtio: status after reset "
	jmp fail_hex
1:	movl $ST_ACK, VIO_STATUS
	movl $ST_ACK | ST_DRIVER, VIO_STATUS
	movl $1, VIO_DEV_FEATURES_SEL
	mov VIO_DEV_FEATURES, %eax
	test $F_VERSION_1_HI, %eax
	jnz 2f
	PRINT "virtio: VERSION_1 not offered, features 63:32 "
	jmp fail_hex
2:	movl $0, VIO_DRV_FEATURES_SEL
	movl $0, VIO_DRV_FEATURES
	movl $1, VIO_DRV_FEATURES_SEL
	movl $F_VERSION_1_HI, VIO_DRV_FEATURES
	movl $ST_ACK | ST_DRIVER | ST_FEATURES_OK, VIO_STATUS
	mov VIO_STATUS, %eax
	test $ST_FEATURES_OK, %eax
	jnz 3f
	PRINT "virtio: FEATURES_OK refused, status "
	jmp fail_hex
3:	PRINT "features: VERSION_1 accepted\n"

	/* Both halves from one config generation. */
	mov $GEN_TRIES, %ebx
4:	mov VIO_CONFIG_GEN, %ecx
	mov VIO_CAPACITY, %eax
	mov VIO_CAPACITY + 4, %edx
	cmp VIO_CONFIG_GEN, %ecx
	je 5f
	dec %ebx
	jnz 4b
	PRINT "virtio: config generation keeps changing\n"
	jmp acpi_poweroff
5:	PRINT "capacity: "
	test %edx, %edx
	jnz 6f
	call putdec
	PRINT " sectors\n"
	cmp $DISK_MIN, %eax
	jae 7f
	PRINT "virtio: disk too small for the test\n"
	jmp acpi_poweroff
6:	PRINT "0x"
	call puthex64
	PRINT " sectors\n"
7:	ret

/* queue_setup: queue 0 with QSIZE entries in our .bss, then DRIVER_OK. */
queue_setup:
	/* The rings start zeroed (flags, indices). */
	mov $vq_desc, %edi
1:	movb $0, (%edi)
	inc %edi
	cmp $vq_end, %edi
	jb 1b
	movl $0, VIO_QUEUE_SEL
	mov VIO_QUEUE_READY, %eax
	test %eax, %eax
	jz 2f
	PRINT "virtio: queue 0 ready before setup: "
	jmp fail_hex
2:	mov VIO_QUEUE_NUM_MAX, %eax
	cmp $QSIZE, %eax
	jae 3f
	PRINT "virtio: QueueNumMax too small: "
	jmp fail_hex
3:	movl $QSIZE, VIO_QUEUE_NUM
	movl $vq_desc, VIO_QUEUE_DESC_LO
	movl $0, VIO_QUEUE_DESC_HI
	movl $vq_avail, VIO_QUEUE_DRIVER_LO
	movl $0, VIO_QUEUE_DRIVER_HI
	movl $vq_used, VIO_QUEUE_DEVICE_LO
	movl $0, VIO_QUEUE_DEVICE_HI
	movl $1, VIO_QUEUE_READY
	mov VIO_QUEUE_READY, %eax
	cmp $1, %eax
	je 4f
	PRINT "virtio: QueueReady reads "
	jmp fail_hex
4:	movl $ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK, VIO_STATUS
	mov VIO_STATUS, %eax
	cmp $ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK, %eax
	je 5f
	PRINT "virtio: status after DRIVER_OK "
	jmp fail_hex
5:	PRINT "queue 0: 8 entries, driver ok\n"
	ret

/*
 * submit: request type %eax on sector %edx as the chain header (descriptor
 * 0), the SECTOR bytes at %edi (1, device-writable for a read) and
 * blk_status (2), published in the next avail slot; then notifies queue 0.
 * x86 keeps stores in order, so the ring entry is visible before the index.
 */
submit:
	push %eax
	push %ecx
	mov %eax, blk_hdr
	movl $0, blk_hdr + 4
	mov %edx, blk_hdr + 8
	movl $0, blk_hdr + 12
	movb $0xff, blk_status /* the device must overwrite it */
	movl $blk_hdr, vq_desc
	movl $0, vq_desc + 4
	movl $16, vq_desc + 8
	movw $DESC_F_NEXT, vq_desc + 12
	movw $1, vq_desc + 14
	mov %edi, vq_desc + 16
	movl $0, vq_desc + 20
	movl $SECTOR, vq_desc + 24
	mov $DESC_F_NEXT, %ecx
	cmp $BLK_T_IN, %eax
	jne 1f
	or $DESC_F_WRITE, %ecx
1:	movw %cx, vq_desc + 28
	movw $2, vq_desc + 30
	movl $blk_status, vq_desc + 32
	movl $0, vq_desc + 36
	movl $1, vq_desc + 40
	movw $DESC_F_WRITE, vq_desc + 44
	movw $0, vq_desc + 46
	movzwl vq_avail + 2, %eax
	mov %eax, %ecx
	and $QSIZE - 1, %ecx
	movw $0, vq_avail + 4(, %ecx, 2) /* head: descriptor 0 */
	inc %eax
	movw %ax, vq_avail + 2
	movl $0, VIO_QUEUE_NOTIFY
	pop %ecx
	pop %eax
	ret

/*
 * wait_mask: waits up to 2 s (the LAPIC timer as a clock) until the dword at
 * %esi, masked with %edx, equals %eax. CF clear when it did.
 */
wait_mask:
	push %ebx
	push %ecx
	movl $TICKS_2S, LAPIC + 0x380
	mov $SPIN_MAX, %ecx
1:	mov (%esi), %ebx
	and %edx, %ebx
	cmp %eax, %ebx
	je 2f
	pause
	cmpl $0, LAPIC + 0x390
	je 3f
	dec %ecx
	jnz 1b
3:	pop %ecx
	pop %ebx
	stc
	ret
2:	movl $0, LAPIC + 0x380
	pop %ecx
	pop %ebx
	clc
	ret

/*
 * read_polled: reads sector %edx into the SECTOR bytes at %edi, completion
 * polled with interrupts off, every request before it completed already. The
 * device raises InterruptStatus just after the used ring: that is polled too
 * and acked. Returns the acked InterruptStatus in %eax; clobbers %edx.
 */
read_polled:
	push %ebx
	push %ecx
	push %esi
	mov $BLK_T_IN, %eax
	call submit
	movzwl vq_avail + 2, %ebx /* the used idx once this request is done */
	mov %ebx, %eax
	shl $16, %eax
	mov $vq_used, %esi
	mov $0xffff0000, %edx /* used->idx */
	call wait_mask
	jnc 1f
	PRINT "virtio: read not completed within 2 s, used idx "
	movzwl vq_used + 2, %eax
	jmp fail_hex
1:	mov %ebx, %ecx
	dec %ecx
	and $QSIZE - 1, %ecx /* its used->ring entry */
	mov vq_used + 4(, %ecx, 8), %eax /* .id */
	test %eax, %eax
	jz 2f
	PRINT "virtio: read: used id "
	jmp fail_hex
2:	mov vq_used + 8(, %ecx, 8), %eax /* .len: the sector and the status */
	cmp $SECTOR + 1, %eax
	je 3f
	PRINT "virtio: read: used len "
	jmp fail_hex
3:	movzbl blk_status, %eax
	test %eax, %eax
	jz 4f
	PRINT "virtio: read: status "
	jmp fail_hex
4:	mov $VIO_INT_STATUS, %esi
	mov $1, %edx
	mov $1, %eax
	call wait_mask
	jnc 5f
	PRINT "virtio: read: InterruptStatus "
	mov VIO_INT_STATUS, %eax
	jmp fail_hex
5:	mov VIO_INT_STATUS, %ebx
	mov %ebx, VIO_INT_ACK
	mov VIO_INT_STATUS, %eax
	test %eax, %eax
	jz 6f
	PRINT "virtio: InterruptStatus after the ack "
	jmp fail_hex
6:	mov %ebx, %eax
	pop %esi
	pop %ecx
	pop %ebx
	ret

/* read_sector0: request 1, the host's text line. */
read_sector0:
	xor %edx, %edx
	mov $blk_buf, %edi
	call read_polled
	PRINT "read sector 0: "
	mov $blk_buf, %esi
	mov $32, %ecx
	call putsn
	PRINT "\n"
	PRINT "InterruptStatus "
	call puthex
	PRINT ", acked\n"
	ret

/*
 * write_sector1: request 2, the pattern the host checks, completed by the
 * interrupt. virtio_irq goes on with load_code; the watchdog reports a lost
 * interrupt.
 */
write_sector1:
	call fill_pattern
	call irq_setup
	mov $BLK_T_OUT, %eax
	mov $1, %edx
	mov $blk_buf, %edi
	call submit
	sti
	hlt
	cli
	PRINT "virtio: hlt returned without an interrupt\n"
	jmp acpi_poweroff

/* fill_pattern: blk_buf = the text line, then each byte's offset & 0xff. */
fill_pattern:
	xor %ecx, %ecx
1:	movb pattern(%ecx), %al
	movb %al, blk_buf(%ecx)
	inc %ecx
	cmp $pattern_end - pattern, %ecx
	jb 1b
2:	movb %cl, blk_buf(%ecx)
	inc %ecx
	cmp $SECTOR, %ecx
	jb 2b
	ret

/* irq_setup: GSI 16 to VIRTIO_VECTOR on this CPU, and the watchdog armed. */
irq_setup:
	mov LAPIC + 0x20, %eax /* APIC ID in bits 31:24, where the RTE wants it */
	and $0xff000000, %eax
	movl $0x10 + 2 * VIRTIO_GSI + 1, IOAPIC
	mov %eax, IOAPIC_WIN
	movl $0x10 + 2 * VIRTIO_GSI, IOAPIC
	movl $RTE_LEVEL | VIRTIO_VECTOR, IOAPIC_WIN
	mov IOAPIC_WIN, %eax
	cmp $RTE_LEVEL | VIRTIO_VECTOR, %eax
	je 1f
	PRINT "ioapic: redirection entry 16 reads "
	jmp fail_hex
1:	movl $0, LAPIC + 0x380 /* stop the clock before unmasking */
	movl $WATCHDOG_VECTOR, LAPIC + 0x320 /* one-shot, unmasked */
	movl $TICKS_3S, LAPIC + 0x380
	ret

/*
 * virtio_irq: request 2 completed. Ack, EOI, check the ring, then on to
 * load_code with interrupts off and the frame left on the stack. A spurious
 * one (InterruptStatus 0) gets its EOI and the wait goes on here, one
 * interrupt frame deeper.
 */
virtio_irq:
	mov VIO_INT_STATUS, %ebx
	test $1, %ebx
	jnz 1f
	movl $0, LAPIC + 0xb0 /* EOI: the line is sampled again */
	incb spurious
	cmpb $SPURIOUS_MAX, spurious
	jbe 0f
	PRINT "virtio: interrupts without a used buffer, InterruptStatus "
	mov %ebx, %eax
	jmp fail_hex
0:	sti
	hlt
	cli
	PRINT "virtio: hlt returned without an interrupt in the handler\n"
	jmp acpi_poweroff
1:	movl $0, LAPIC + 0x380 /* the watchdog */
	mov %ebx, VIO_INT_ACK
	movl $0, LAPIC + 0xb0 /* EOI: the IOAPIC clears remote IRR */
	movzwl vq_used + 2, %eax
	cmp $2, %eax
	je 2f
	PRINT "virtio: write: used idx "
	jmp fail_hex
2:	mov vq_used + 12, %eax /* used->ring[1].id */
	test %eax, %eax
	jz 3f
	PRINT "virtio: write: used id "
	jmp fail_hex
3:	mov vq_used + 16, %eax /* used->ring[1].len: only the status byte */
	cmp $1, %eax
	je 4f
	PRINT "virtio: write: used len "
	jmp fail_hex
4:	movzbl blk_status, %eax
	test %eax, %eax
	jz 5f
	PRINT "virtio: write: status "
	jmp fail_hex
5:	PRINT "write sector 1: interrupt, InterruptStatus "
	mov %ebx, %eax
	call puthex
	PRINT ", status 0\n"
	jmp load_code

/*
 * load_code: sector 2's code into code_page, called CODE_CALLS times; then
 * sector 3's into the same page, called once. Each call returns the value
 * its sector's code puts in %eax. Polled, with the interrupt sources masked.
 */
load_code:
	movl $LVT_MASKED, LAPIC + 0x320 /* no watchdog: the timer is a clock again */
	movl $0x10 + 2 * VIRTIO_GSI, IOAPIC
	movl $RTE_MASKED | RTE_LEVEL | VIRTIO_VECTOR, IOAPIC_WIN
	mov $2, %edx
	mov $code_page, %edi
	call read_polled
	PRINT "code from sector 2 returned"
	mov $CODE_CALLS, %ebx
1:	call code_page
	PRINT " "
	call puthex
	dec %ebx
	jnz 1b
	PRINT "\n"
	mov $3, %edx
	mov $code_page, %edi
	call read_polled
	call code_page
	PRINT "code from sector 3, same page, returned "
	call puthex
	PRINT "\n"
	jmp acpi_poweroff

watchdog_irq:
	PRINT "virtio: no interrupt within 3 s, used idx "
	movzwl vq_used + 2, %eax
	call puthex
	PRINT ", InterruptStatus "
	mov VIO_INT_STATUS, %eax
	jmp fail_hex

/* idt_fill: exceptions and stray interrupts get loud handlers. */
idt_fill:
	mov $idt, %edi
	mov $exc_handler, %eax
	mov $irq_handler, %edx
	call idt_fill32
	mov $WATCHDOG_VECTOR, %ecx
	mov $watchdog_irq, %eax
	call idt_gate32
	mov $VIRTIO_VECTOR, %ecx
	mov $virtio_irq, %eax
	jmp idt_gate32

exc_handler:
	PRINT "virtio: exception\n"
	jmp acpi_poweroff

irq_handler:
	PRINT "virtio: unexpected interrupt\n"
	jmp acpi_poweroff

	.section .rodata, "a"
	.balign 8
idt_desc:
	.word 256 * 8 - 1
	.long idt
/* The host generates the same 512 bytes (tests/run.sh). */
pattern:
	.ascii "kite-virtio-guest-wrote-this\n"
pattern_end:

	.bss
	/* Alignment: descriptors 16, avail 2, used 4 (virtio 1.2, 2.7). */
	.balign 16
vq_desc:
	.skip 16 * QSIZE
	.balign 16
vq_avail:
	.skip 4 + 2 * QSIZE + 2
	.balign 16
vq_used:
	.skip 4 + 8 * QSIZE + 2
vq_end:
	.balign 16
blk_hdr:
	.skip 16
blk_buf:
	.skip SECTOR
blk_status:
	.skip 1
spurious:
	.skip 1
	.balign 8
idt:
	.skip 256 * 8
	/* Written by the device only: no CPU store retires its decoded code. */
	.balign PAGE
code_page:
	.skip PAGE
