/* devices/i8042.c: i8042 keyboard controller with a minimal keyboard; 0xFE resets. */
#include "devices/devices.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "bus/bus.h"
#include "vm/vm.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_KBD_IRQ 1
#define I8042_AUX_IRQ 12

#define STS_OBF 0x01
#define STS_SYS 0x04
#define STS_CMD 0x08	  /* the last write went to the command port */
#define STS_UNLOCKED 0x10 /* keyboard not inhibited by the key lock */
#define STS_AUXDATA 0x20

#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40
#define CTR_POWER_ON (CTR_KBDINT | CTR_AUXINT | CTR_XLATE)

#define OUTPORT_RESET 0x01 /* low resets the CPU */
#define OUTPORT_A20 0x02
#define OUTPORT_POWER_ON (OUTPORT_RESET | OUTPORT_A20)

/* Controller commands (port 0x64). */
#define CMD_READ_CTR 0x20
#define CMD_WRITE_CTR 0x60
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_AUX_TEST 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_OUTPORT 0xd0
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_WRITE_KBD_OBUF 0xd2
#define CMD_WRITE_AUX_OBUF 0xd3
#define CMD_WRITE_AUX 0xd4
#define CMD_PULSE_FIRST 0xf0

/* Keyboard commands and replies (port 0x60). */
#define KBD_SET_LEDS 0xed
#define KBD_ECHO 0xee
#define KBD_SCANSET 0xf0
#define KBD_GET_ID 0xf2
#define KBD_TYPEMATIC 0xf3
#define KBD_ENABLE 0xf4
#define KBD_DISABLE 0xf5
#define KBD_DEFAULTS 0xf6
#define KBD_RESET 0xff
#define KBD_ACK 0xfa
#define KBD_NAK 0xfe
#define KBD_SELF_TEST_OK 0xaa

/* Replies queued beyond this are dropped: a guest cannot grow the queue. */
#define I8042_QUEUE_MAX 16

#define I8042_STATE_VERSION 1

struct i8042_byte {
	uint8_t data;
	uint8_t aux; /* from the AUX (mouse) side: sets STS_AUXDATA, raises IRQ 12 */
};

struct i8042 {
	struct device dev;
	pthread_mutex_t lock;

	uint8_t status; /* STS_SYS and STS_CMD; the rest is computed */
	uint8_t ctr;
	uint8_t outport;
	uint8_t pending_cmd; /* controller command awaiting its data byte, or 0 */
	uint8_t kbd_pending; /* keyboard command awaiting its argument, or 0 */
	uint8_t kbd_scanset;
	bool kbd_scanning;
	uint8_t last_data; /* what port 0x60 reads when the queue is empty */
	struct i8042_byte queue[I8042_QUEUE_MAX];
	unsigned head, count;
	int irq_level[2]; /* keyboard, aux */
};

static struct i8042 *to_i8042(struct device *dev)
{
	return container_of(dev, struct i8042, dev);
}

static void queue_push(struct i8042 *k, uint8_t data, bool aux)
{
	if (k->count == I8042_QUEUE_MAX)
		return;
	k->queue[(k->head + k->count) % I8042_QUEUE_MAX] = (struct i8042_byte){ data, aux };
	k->count++;
}

static void line_set(struct i8042 *k, unsigned aux, int level)
{
	if (k->irq_level[aux] == level)
		return;
	k->irq_level[aux] = level;
	vm_irq_set(k->dev.vm, aux ? I8042_AUX_IRQ : I8042_KBD_IRQ, level);
}

/* The output buffer's interrupt line is high while a byte waits and its side is enabled. */
static void irq_update(struct i8042 *k)
{
	const struct i8042_byte *b = &k->queue[k->head];

	line_set(k, 0, k->count && !b->aux && (k->ctr & CTR_KBDINT));
	line_set(k, 1, k->count && b->aux && (k->ctr & CTR_AUXINT));
}

static uint8_t status_read(const struct i8042 *k)
{
	uint8_t s = k->status | STS_UNLOCKED;

	if (k->count) {
		s |= STS_OBF;
		if (k->queue[k->head].aux)
			s |= STS_AUXDATA;
	}
	return s;
}

static uint8_t data_read(struct i8042 *k)
{
	if (!k->count)
		return k->last_data;
	/* Each byte gets its own edge: the line drops when the buffer empties. */
	line_set(k, 0, 0);
	line_set(k, 1, 0);
	k->last_data = k->queue[k->head].data;
	k->head = (k->head + 1) % I8042_QUEUE_MAX;
	k->count--;
	return k->last_data;
}

static void kbd_defaults(struct i8042 *k)
{
	k->kbd_scanset = 2;
	k->kbd_scanning = true;
	k->kbd_pending = 0;
}

static void kbd_arg(struct i8042 *k, uint8_t val)
{
	uint8_t cmd = k->kbd_pending;

	k->kbd_pending = 0;
	if (cmd == KBD_SCANSET && val == 0) {
		queue_push(k, KBD_ACK, false);
		queue_push(k, k->kbd_scanset, false);
		return;
	}
	if (cmd == KBD_SCANSET && val > 3) {
		queue_push(k, KBD_NAK, false);
		return;
	}
	if (cmd == KBD_SCANSET)
		k->kbd_scanset = val;
	queue_push(k, KBD_ACK, false);
}

/* A keyboard with no keys pressed: it answers the commands Linux's atkbd sends. */
static void kbd_write(struct i8042 *k, uint8_t val)
{
	/* Arguments are below 0x80; a command byte instead abandons the pending one. */
	if (k->kbd_pending && !(val & 0x80)) {
		kbd_arg(k, val);
		return;
	}
	k->kbd_pending = 0;
	switch (val) {
	case KBD_RESET:
		kbd_defaults(k);
		queue_push(k, KBD_ACK, false);
		queue_push(k, KBD_SELF_TEST_OK, false);
		break;
	case KBD_GET_ID:
		queue_push(k, KBD_ACK, false);
		queue_push(k, 0xab, false);
		/* The controller translates the second ID byte when XLATE is on. */
		queue_push(k, (k->ctr & CTR_XLATE) ? 0x41 : 0x83, false);
		break;
	case KBD_ECHO:
		queue_push(k, KBD_ECHO, false);
		break;
	case KBD_SET_LEDS:
	case KBD_TYPEMATIC:
	case KBD_SCANSET:
		k->kbd_pending = val;
		queue_push(k, KBD_ACK, false);
		break;
	case KBD_ENABLE:
		k->kbd_scanning = true;
		queue_push(k, KBD_ACK, false);
		break;
	case KBD_DISABLE:
		kbd_defaults(k);
		k->kbd_scanning = false;
		queue_push(k, KBD_ACK, false);
		break;
	default:
		/* 0xf6-0xfd: defaults and set-3 key modes, all accepted. */
		queue_push(k, val >= KBD_DEFAULTS ? KBD_ACK : KBD_NAK, false);
		break;
	}
}

static void cpu_reset(struct i8042 *k)
{
	log_ratelimited(LOG_INFO, "i8042: guest pulsed the reset line");
	vm_request_stop(k->dev.vm, VM_STOP_RESET);
}

static void data_write(struct i8042 *k, uint8_t val)
{
	uint8_t cmd = k->pending_cmd;

	k->pending_cmd = 0;
	k->status &= ~STS_CMD;
	switch (cmd) {
	case CMD_WRITE_CTR:
		k->ctr = val;
		k->status = (k->status & ~STS_SYS) | (val & CTR_SYS ? STS_SYS : 0);
		break;
	case CMD_WRITE_OUTPORT:
		k->outport = val;
		if (!(val & OUTPORT_RESET))
			cpu_reset(k);
		break;
	case CMD_WRITE_KBD_OBUF:
		queue_push(k, val, false);
		break;
	case CMD_WRITE_AUX_OBUF:
		queue_push(k, val, true);
		break;
	case CMD_WRITE_AUX:
		/* No mouse is attached: the controller answers for it. */
		queue_push(k, KBD_NAK, true);
		break;
	default:
		kbd_write(k, val);
		break;
	}
}

static void cmd_write(struct i8042 *k, uint8_t cmd)
{
	k->status |= STS_CMD;
	k->pending_cmd = 0;
	switch (cmd) {
	case CMD_READ_CTR:
		queue_push(k, k->ctr, false);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_KBD_OBUF:
	case CMD_WRITE_AUX_OBUF:
	case CMD_WRITE_AUX:
		k->pending_cmd = cmd;
		break;
	case CMD_SELF_TEST:
		k->status |= STS_SYS;
		queue_push(k, 0x55, false);
		break;
	case CMD_KBD_TEST:
	case CMD_AUX_TEST:
		queue_push(k, 0x00, false);
		break;
	case CMD_KBD_DISABLE:
		k->ctr |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		k->ctr &= ~CTR_KBDDIS;
		break;
	case CMD_AUX_DISABLE:
		k->ctr |= CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		k->ctr &= ~CTR_AUXDIS;
		break;
	case CMD_READ_OUTPORT:
		queue_push(k, k->outport, false);
		break;
	default:
		/* 0xf0-0xff pulse output lines low; line 0 is the CPU reset. */
		if (cmd >= CMD_PULSE_FIRST && !(cmd & OUTPORT_RESET))
			cpu_reset(k);
		else if (cmd < CMD_PULSE_FIRST)
			log_ratelimited(LOG_DEBUG, "i8042: ignoring command %#x", cmd);
		break;
	}
}

static void data_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct i8042 *k = opaque;

	(void)offset;
	pthread_mutex_lock(&k->lock);
	if (is_write) {
		data_write(k, data[0]);
	} else {
		data[0] = data_read(k);
		memset(data + 1, 0xff, len - 1);
	}
	irq_update(k);
	pthread_mutex_unlock(&k->lock);
}

static void cmd_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct i8042 *k = opaque;

	(void)offset;
	pthread_mutex_lock(&k->lock);
	if (is_write) {
		cmd_write(k, data[0]);
	} else {
		data[0] = status_read(k);
		memset(data + 1, 0xff, len - 1);
	}
	irq_update(k);
	pthread_mutex_unlock(&k->lock);
}

static void regs_reset(struct i8042 *k)
{
	k->status = 0;
	k->ctr = CTR_POWER_ON;
	k->outport = OUTPORT_POWER_ON;
	k->pending_cmd = 0;
	k->last_data = 0;
	k->head = 0;
	k->count = 0;
	kbd_defaults(k);
}

static void i8042_reset(struct device *dev)
{
	struct i8042 *k = to_i8042(dev);

	pthread_mutex_lock(&k->lock);
	regs_reset(k);
	irq_update(k);
	pthread_mutex_unlock(&k->lock);
}

static int i8042_realize(struct device *dev, struct err *err)
{
	struct i8042 *k = to_i8042(dev);
	int rc;

	rc = io_bus_register(&dev->vm->pio, I8042_DATA_PORT, 1, data_io, k, "i8042-data", err);
	if (rc < 0)
		return rc;
	return io_bus_register(&dev->vm->pio, I8042_CMD_PORT, 1, cmd_io, k, "i8042-cmd", err);
}

static int i8042_save(struct device *dev, struct state_writer *w)
{
	struct i8042 *k = to_i8042(dev);

	pthread_mutex_lock(&k->lock);
	state_section_begin(w, "i8042", I8042_STATE_VERSION);
	state_put_u8(w, k->status);
	state_put_u8(w, k->ctr);
	state_put_u8(w, k->outport);
	state_put_u8(w, k->pending_cmd);
	state_put_u8(w, k->kbd_pending);
	state_put_u8(w, k->kbd_scanset);
	state_put_u8(w, k->kbd_scanning);
	state_put_u8(w, k->last_data);
	state_put_u8(w, (uint8_t)k->count);
	for (unsigned i = 0; i < k->count; i++) {
		const struct i8042_byte *b = &k->queue[(k->head + i) % I8042_QUEUE_MAX];

		state_put_u8(w, b->data);
		state_put_u8(w, b->aux);
	}
	state_section_end(w);
	pthread_mutex_unlock(&k->lock);
	return w->error;
}

static bool pending_valid(uint8_t cmd, uint8_t kbd)
{
	bool cmd_ok = cmd == 0 || cmd == CMD_WRITE_CTR || cmd == CMD_WRITE_OUTPORT ||
		      cmd == CMD_WRITE_KBD_OBUF || cmd == CMD_WRITE_AUX_OBUF ||
		      cmd == CMD_WRITE_AUX;
	bool kbd_ok = kbd == 0 || kbd == KBD_SET_LEDS || kbd == KBD_TYPEMATIC ||
		      kbd == KBD_SCANSET;

	return cmd_ok && kbd_ok;
}

static int i8042_load(struct device *dev, struct state_reader *r, struct err *err)
{
	struct i8042 *k = to_i8042(dev);
	struct i8042_byte queue[I8042_QUEUE_MAX] = { 0 };
	uint8_t status, ctr, outport, cmd, kbd, scanset, scanning, last, count;
	uint32_t version;
	int rc;

	rc = state_section_open(r, "i8042", I8042_STATE_VERSION, &version, err);
	if (rc < 0)
		return rc;
	status = state_get_u8(r);
	ctr = state_get_u8(r);
	outport = state_get_u8(r);
	cmd = state_get_u8(r);
	kbd = state_get_u8(r);
	scanset = state_get_u8(r);
	scanning = state_get_u8(r);
	last = state_get_u8(r);
	count = state_get_u8(r);
	if (count > I8042_QUEUE_MAX)
		return err_set(err, -EINVAL, "i8042: state claims %u queued bytes, at most %u",
			       count, I8042_QUEUE_MAX);
	for (unsigned i = 0; i < count; i++) {
		queue[i].data = state_get_u8(r);
		queue[i].aux = state_get_u8(r);
		if (queue[i].aux > 1)
			return err_set(err, -EINVAL, "i8042: state has a bad queue entry");
	}
	rc = state_section_close(r, err);
	if (rc < 0)
		return err_wrap(err, "i8042");
	if ((status & ~(STS_SYS | STS_CMD)) || !pending_valid(cmd, kbd) || scanset < 1 ||
	    scanset > 3 || scanning > 1 || !(outport & OUTPORT_RESET))
		return err_set(err, -EINVAL, "i8042: state has invalid register values");

	pthread_mutex_lock(&k->lock);
	k->status = status;
	k->ctr = ctr;
	k->outport = outport;
	k->pending_cmd = cmd;
	k->kbd_pending = kbd;
	k->kbd_scanset = scanset;
	k->kbd_scanning = scanning;
	k->last_data = last;
	memcpy(k->queue, queue, sizeof(queue));
	k->head = 0;
	k->count = count;
	/* Drive both lines afresh: the restored interrupt controller has no memory of them. */
	k->irq_level[0] = k->irq_level[1] = -1;
	irq_update(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static void i8042_destroy(struct device *dev)
{
	struct i8042 *k = to_i8042(dev);

	pthread_mutex_destroy(&k->lock);
	free(k);
}

static const struct device_ops i8042_ops = {
	.type = "i8042",
	.realize = i8042_realize,
	.reset = i8042_reset,
	.save = i8042_save,
	.load = i8042_load,
	.destroy = i8042_destroy,
};

struct device *i8042_create(struct vm *vm, struct err *err)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k) {
		err_set(err, -ENOMEM, "i8042: out of memory");
		return NULL;
	}
	pthread_mutex_init(&k->lock, NULL);
	k->dev.ops = &i8042_ops;
	k->dev.vm = vm;
	k->dev.name = "i8042";
	regs_reset(k);
	vm_add_device(vm, &k->dev);
	return &k->dev;
}

/*
 * Ctrl, Alt, Del down, then up, as the keyboard sends them in set 2, and as
 * the controller hands them on in set 1 when it translates (CTR_XLATE,
 * which Linux leaves on).
 */
static const uint8_t cad_set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14 };
static const uint8_t cad_set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };

int i8042_send_ctrl_alt_del(struct vm *vm)
{
	const uint8_t *codes;
	struct device *dev;
	struct i8042 *k;
	size_t n;
	int rc = 0;

	for (dev = vm->devices; dev && dev->ops != &i8042_ops; dev = dev->next)
		;
	if (!dev)
		return -ENODEV;
	k = to_i8042(dev);
	pthread_mutex_lock(&k->lock);
	codes = (k->ctr & CTR_XLATE) ? cad_set1 : cad_set2;
	n = (k->ctr & CTR_XLATE) ? sizeof(cad_set1) : sizeof(cad_set2);
	/* Half a key sequence would leave a key held down: all of it, or nothing. */
	if (!k->kbd_scanning || (k->ctr & CTR_KBDDIS) || k->count + n > I8042_QUEUE_MAX) {
		rc = -EAGAIN;
	} else {
		for (size_t i = 0; i < n; i++)
			queue_push(k, codes[i], false);
		irq_update(k);
	}
	pthread_mutex_unlock(&k->lock);
	return rc;
}
