/*
 * tests/guests/netarp.S: the virtio-net device in slot 0 driven from bare
 * metal, on either engine and either back-end. Negotiates VERSION_1 and MAC,
 * reads the MAC from config space, sets up the receive (0) and transmit (1)
 * queues, posts RX_BUFS receive buffers and sends one ARP request, "who has
 * 10.0.2.2, tell 10.0.2.15", as a two-descriptor chain (header, frame). The
 * answer comes by interrupt (GSI 16, level, through the IOAPIC): with KVM's
 * ioeventfd and irqfd neither the notify nor the interrupt leaves the engine
 * through kite's vCPU thread. Whoever owns 10.0.2.2 answers: libslirp with
 * --net user, the host's kernel with --net tap on an interface that has the
 * address. Frames that are not the reply (a host's IPv6 chatter on a TAP) are
 * skipped and their buffers posted again.
 *
 * As in virtio.S, the interrupt handler carries on with the test instead of
 * returning (kvm-pvm cannot emulate a 32-bit IRET); every failure prints its
 * own line and powers off.
 */
#include "lib32.inc"

#define VIO 0xc0000000 /* slot 0: the network device, with --no-rng */
#include "virtio_mmio.inc"
#define VIO_MAC (VIO_CONFIG) /* virtio_net_config.mac */

#define F_MAC (1 << 5)

#define QSIZE 8
#define NET_HDR 12 /* virtio_net_hdr with num_buffers: VERSION_1 always has it */
#define ARP_FRAME 42 /* Ethernet header + ARP for IPv4 over Ethernet */
/* One queue's rings, each part at its alignment (virtio 1.2, 2.7). */
#define AVAIL_OFF (16 * QSIZE)
#define USED_OFF (AVAIL_OFF + 32)
#define RING_BYTES (USED_OFF + 4 + 8 * QSIZE + 2)
#define RX_BUFS 4
#define RX_BUF_LEN 2048
#define OTHER_MAX 32 /* frames that are not the reply before giving up */

#define NET_VECTOR 0x41
#define WATCHDOG_VECTOR 0x40

#define TICKS_2S 2000000000 /* at the 1 GHz APIC bus (KVM and soft), divide by 1 */
#define TICKS_4S 4000000000
#define SPIN_MAX 100000000

/* 10.0.2.2 and 10.0.2.15 as the dwords their network-order bytes load as. */
#define IP_HOST 0x0202000a
#define IP_GUEST 0x0f02000a

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
	movl $0, VIO_QUEUE_SEL
	mov $rxq_desc, %edi
	call queue_setup
	movl $1, VIO_QUEUE_SEL
	mov $txq_desc, %edi
	call queue_setup
	movl $ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK, VIO_STATUS
	PRINT "queues 0 and 1: 8 entries, driver ok\n"
	call rx_fill
	call irq_setup
	call send_arp
	sti
	hlt
	cli
	PRINT "net: hlt returned without an interrupt\n"
	jmp acpi_poweroff

fail_hex:
	call puthex
	PRINT "\n"
	jmp acpi_poweroff

/* probe: the MMIO header of slot 0 must be a version 2 network device. */
probe:
	mov VIO_MAGIC, %eax
	cmp $VIRTIO_MAGIC, %eax
	je 1f
	PRINT "net: bad magic "
	jmp fail_hex
1:	mov VIO_VERSION, %eax
	cmp $2, %eax
	je 2f
	PRINT "net: bad version "
	jmp fail_hex
2:	mov VIO_DEVICE_ID, %eax
	cmp $1, %eax
	je 3f
	PRINT "net: not a network device, id "
	jmp fail_hex
3:	PRINT "virtio-net at c0000000\n"
	ret

/* negotiate: VERSION_1 and MAC, nothing else; then the MAC, byte by byte. */
negotiate:
	movl $0, VIO_STATUS
	movl $ST_ACK, VIO_STATUS
	movl $ST_ACK | ST_DRIVER, VIO_STATUS
	movl $0, VIO_DEV_FEATURES_SEL
	mov VIO_DEV_FEATURES, %eax
	test $F_MAC, %eax
	jnz 1f
	PRINT "net: MAC not offered, features 31:0 "
	jmp fail_hex
1:	movl $1, VIO_DEV_FEATURES_SEL
	mov VIO_DEV_FEATURES, %eax
	test $F_VERSION_1_HI, %eax
	jnz 2f
	PRINT "net: VERSION_1 not offered, features 63:32 "
	jmp fail_hex
2:	movl $0, VIO_DRV_FEATURES_SEL
	movl $F_MAC, VIO_DRV_FEATURES
	movl $1, VIO_DRV_FEATURES_SEL
	movl $F_VERSION_1_HI, VIO_DRV_FEATURES
	movl $ST_ACK | ST_DRIVER | ST_FEATURES_OK, VIO_STATUS
	mov VIO_STATUS, %eax
	test $ST_FEATURES_OK, %eax
	jnz 3f
	PRINT "net: FEATURES_OK refused, status "
	jmp fail_hex
3:	PRINT "features: VERSION_1 MAC accepted\nmac "
	xor %ecx, %ecx
4:	movzbl VIO_MAC(%ecx), %eax
	movb %al, mac(%ecx)
	call putbyte
	inc %ecx
	cmp $6, %ecx
	je 5f
	PRINT ":"
	jmp 4b
5:	PRINT "\n"
	ret

/* putbyte: writes %al as two hex digits. */
putbyte:
	push %eax
	shr $4, %al
	call hexdigit
	pop %eax
	jmp hexdigit

/* queue_setup: the selected queue, QSIZE entries, rings at %edi (zeroed here). */
queue_setup:
	push %edi
	mov %edi, %eax
	add $RING_BYTES, %eax
1:	movb $0, (%edi)
	inc %edi
	cmp %eax, %edi
	jb 1b
	pop %edi
	mov VIO_QUEUE_NUM_MAX, %eax
	cmp $QSIZE, %eax
	jae 2f
	PRINT "net: QueueNumMax too small: "
	jmp fail_hex
2:	movl $QSIZE, VIO_QUEUE_NUM
	mov %edi, VIO_QUEUE_DESC_LO
	movl $0, VIO_QUEUE_DESC_HI
	lea AVAIL_OFF(%edi), %eax
	mov %eax, VIO_QUEUE_DRIVER_LO
	movl $0, VIO_QUEUE_DRIVER_HI
	lea USED_OFF(%edi), %eax
	mov %eax, VIO_QUEUE_DEVICE_LO
	movl $0, VIO_QUEUE_DEVICE_HI
	movl $1, VIO_QUEUE_READY
	ret

/* rx_fill: descriptor i is receive buffer i, all RX_BUFS published at once. */
rx_fill:
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $4, %eax /* 16 bytes a descriptor */
	mov %ecx, %edx
	imul $RX_BUF_LEN, %edx
	add $rx_bufs, %edx
	mov %edx, rxq_desc(%eax)
	movl $0, rxq_desc + 4(%eax)
	movl $RX_BUF_LEN, rxq_desc + 8(%eax)
	movw $DESC_F_WRITE, rxq_desc + 12(%eax)
	movw $0, rxq_desc + 14(%eax)
	movw %cx, rxq_desc + AVAIL_OFF + 4(, %ecx, 2)
	inc %ecx
	cmp $RX_BUFS, %ecx
	jb 1b
	movw $RX_BUFS, rxq_desc + AVAIL_OFF + 2
	movl $0, VIO_QUEUE_NOTIFY
	ret

/* rx_repost: receive buffer %eax goes back in the avail ring. */
rx_repost:
	push %ecx
	movzwl rxq_desc + AVAIL_OFF + 2, %ecx
	push %ecx
	and $QSIZE - 1, %ecx
	movw %ax, rxq_desc + AVAIL_OFF + 4(, %ecx, 2)
	pop %ecx
	inc %ecx
	movw %cx, rxq_desc + AVAIL_OFF + 2
	movl $0, VIO_QUEUE_NOTIFY
	pop %ecx
	ret

/* send_arp: the request as header + frame, sent and its completion polled. */
send_arp:
	/* Ethernet: broadcast, from us, type ARP. */
	movl $0xffffffff, arp_frame
	movw $0xffff, arp_frame + 4
	mov mac, %eax
	mov %eax, arp_frame + 6
	mov %eax, arp_frame + 22 /* sender hardware address */
	movw mac + 4, %ax
	movw %ax, arp_frame + 10
	movw %ax, arp_frame + 26
	movw $0x0608, arp_frame + 12
	/* ARP: Ethernet (1), IPv4 (0x0800), 6, 4, request (1). */
	movl $0x00080100, arp_frame + 14
	movl $0x01000406, arp_frame + 18
	movl $IP_GUEST, arp_frame + 28
	movl $0, arp_frame + 32 /* target hardware address: unknown */
	movw $0, arp_frame + 36
	movl $IP_HOST, arp_frame + 38
	movl $tx_hdr, txq_desc
	movl $0, txq_desc + 4
	movl $NET_HDR, txq_desc + 8
	movw $DESC_F_NEXT, txq_desc + 12
	movw $1, txq_desc + 14
	movl $arp_frame, txq_desc + 16
	movl $0, txq_desc + 20
	movl $ARP_FRAME, txq_desc + 24
	movw $0, txq_desc + 28
	movw $0, txq_desc + 30
	movw $0, txq_desc + AVAIL_OFF + 4
	movw $1, txq_desc + AVAIL_OFF + 2
	movl $1, VIO_QUEUE_NOTIFY
	/* The transmit completion is polled: only receive interrupts are wanted. */
	movl $TICKS_2S, LAPIC + 0x380
	mov $SPIN_MAX, %ecx
1:	cmpw $1, txq_desc + USED_OFF + 2
	je 2f
	pause
	cmpl $0, LAPIC + 0x390
	je 3f
	dec %ecx
	jnz 1b
3:	PRINT "net: transmit not completed within 2 s, used idx "
	movzwl txq_desc + USED_OFF + 2, %eax
	jmp fail_hex
2:	movl $0, LAPIC + 0x380
	cmpw $0, txq_desc + USED_OFF + 4 /* used->ring[0].id */
	je 4f
	PRINT "net: transmit: used id "
	movzwl txq_desc + USED_OFF + 4, %eax
	jmp fail_hex
4:	PRINT "arp request sent: who has 10.0.2.2, tell 10.0.2.15\n"
	ret

/* irq_setup: GSI 16 to NET_VECTOR on this CPU, and the watchdog armed. */
irq_setup:
	mov LAPIC + 0x20, %eax
	and $0xff000000, %eax
	movl $0x10 + 2 * VIRTIO_GSI + 1, IOAPIC
	mov %eax, IOAPIC_WIN
	movl $0x10 + 2 * VIRTIO_GSI, IOAPIC
	movl $RTE_LEVEL | NET_VECTOR, IOAPIC_WIN
	movl $WATCHDOG_VECTOR, LAPIC + 0x320 /* one-shot, unmasked */
	movl $TICKS_4S, LAPIC + 0x380
	ret

/*
 * net_irq: frames arrived. Each used entry is checked in turn; the reply ends
 * the test, anything else is counted and its buffer posted again, and the
 * wait goes on here, one interrupt frame deeper.
 */
net_irq:
	mov VIO_INT_STATUS, %ebx
	mov %ebx, VIO_INT_ACK
	movl $0, LAPIC + 0xb0 /* EOI: the IOAPIC clears remote IRR */
1:	movzwl rx_seen, %ecx
	cmpw rxq_desc + USED_OFF + 2, %cx
	je 9f
	and $QSIZE - 1, %ecx
	mov rxq_desc + USED_OFF + 4(, %ecx, 8), %eax /* .id */
	mov rxq_desc + USED_OFF + 8(, %ecx, 8), %edx /* .len */
	incw rx_seen
	cmp $RX_BUFS, %eax
	jb 2f
	PRINT "net: receive: used id "
	jmp fail_hex
2:	mov %eax, %esi
	imul $RX_BUF_LEN, %esi
	add $rx_bufs, %esi
	call is_reply
	jnc reply
	incb others
	cmpb $OTHER_MAX, others
	jbe 3f
	PRINT "net: no ARP reply among the frames received\n"
	jmp acpi_poweroff
3:	call rx_repost
	jmp 1b
9:	sti
	hlt
	cli
	PRINT "net: hlt returned without an interrupt in the handler\n"
	jmp acpi_poweroff

/* is_reply: CF clear when the %edx bytes at %esi are our ARP reply. */
is_reply:
	cmp $NET_HDR + ARP_FRAME, %edx
	jb 8f
	cmpw $0x0608, NET_HDR + 12(%esi) /* ARP */
	jne 8f
	cmpw $0x0200, NET_HDR + 20(%esi) /* reply */
	jne 8f
	cmpl $IP_HOST, NET_HDR + 28(%esi)
	jne 8f
	cmpl $IP_GUEST, NET_HDR + 38(%esi)
	jne 8f
	clc
	ret
8:	stc
	ret

/* reply: the answer is in the buffer at %esi, %edx bytes with the header. */
reply:
	movl $0, LAPIC + 0x380 /* the watchdog */
	PRINT "arp reply: 10.0.2.2 answered\n"
	mov mac, %eax
	cmp NET_HDR + 0(%esi), %eax /* sent to us */
	jne 1f
	movw mac + 4, %ax
	cmpw NET_HDR + 4(%esi), %ax
	jne 1f
	mov mac, %eax
	cmp NET_HDR + 32(%esi), %eax /* target hardware address: us */
	jne 1f
	movw mac + 4, %ax
	cmpw NET_HDR + 36(%esi), %ax
	jne 1f
	PRINT "reply addressed to our mac\n"
	jmp 2f
1:	PRINT "net: reply not addressed to our mac\n"
	jmp acpi_poweroff
2:	movzwl NET_HDR - 2(%esi), %eax /* num_buffers */
	cmp $1, %eax
	je 3f
	PRINT "net: num_buffers "
	jmp fail_hex
3:	PRINT "header: num_buffers 1\n"
	jmp acpi_poweroff

watchdog_irq:
	PRINT "net: no ARP reply within 4 s, rx used idx "
	movzwl rxq_desc + USED_OFF + 2, %eax
	call puthex
	PRINT ", InterruptStatus "
	mov VIO_INT_STATUS, %eax
	jmp fail_hex

idt_fill:
	mov $idt, %edi
	mov $exc_handler, %eax
	mov $irq_handler, %edx
	call idt_fill32
	mov $WATCHDOG_VECTOR, %ecx
	mov $watchdog_irq, %eax
	call idt_gate32
	mov $NET_VECTOR, %ecx
	mov $net_irq, %eax
	jmp idt_gate32

exc_handler:
	PRINT "net: exception\n"
	jmp acpi_poweroff

irq_handler:
	PRINT "net: unexpected interrupt\n"
	jmp acpi_poweroff

	IDT32

	.bss
	.balign 16
rxq_desc:
	.skip RING_BYTES
	.balign 16
txq_desc:
	.skip RING_BYTES
	.balign 16
tx_hdr:
	.skip NET_HDR
	.balign 16
arp_frame:
	.skip ARP_FRAME
	.balign 4
mac:
	.skip 8
rx_seen:
	.skip 2
others:
	.skip 1
	.balign 16
rx_bufs:
	.skip RX_BUFS * RX_BUF_LEN
