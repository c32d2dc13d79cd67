// SPDX-License-Identifier: GPL-2.0-only
/* wire_keymsg.c - see wire_keymsg.h. */
#include <string.h>

#include "wire/wire_keymsg.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static bool type_known(uint8_t type)
{
	uint8_t t = type & ~KM_REPLY;

	return t >= KM_RELOAD && t <= KM_TYPE_MAX;
}

/* A rollback request (wire_keymsg.h) is fixed: all its fields zero. */
static bool payload_free_ok(uint8_t type, uint8_t status, uint8_t method,
			    uint16_t prf, uint32_t u32, size_t idl, size_t dl,
			    size_t d2l)
{
	if (type != KM_ROLLBACK && type != KM_ROLLBACK_DROP)
		return true;
	return !status && !method && !prf && !u32 && !idl && !dl && !d2l;
}

size_t keymsg_len(const struct keymsg *m)
{
	size_t idl = strnlen(m->id, sizeof(m->id));

	if (idl > KM_ID_MAX || m->data_len > KM_DATA_MAX ||
	    m->data2_len > KM_DATA2_MAX || !type_known(m->type) ||
	    (m->data_len && !m->data) || (m->data2_len && !m->data2) ||
	    !payload_free_ok(m->type, m->status, m->method, m->prf, m->u32, idl,
			     m->data_len, m->data2_len))
		return 0;
	return KM_HDR_LEN + idl + m->data_len + m->data2_len;
}

size_t keymsg_encode(const struct keymsg *m, uint8_t *out, size_t cap)
{
	size_t len = keymsg_len(m), idl = strnlen(m->id, sizeof(m->id));
	uint8_t *p = out + KM_HDR_LEN;

	if (!len || len > cap)
		return 0;
	out[0] = KM_VERSION;
	out[1] = m->type;
	out[2] = m->status;
	out[3] = m->method;
	put32(out + 4, m->seq);
	put16(out + 8, m->prf);
	out[10] = (uint8_t)idl;
	out[11] = 0;
	put32(out + 12, m->u32);
	put32(out + 16, (uint32_t)m->data_len);
	put32(out + 20, (uint32_t)m->data2_len);
	memcpy(p, m->id, idl);
	p += idl;
	if (m->data_len)
		memcpy(p, m->data, m->data_len);
	p += m->data_len;
	if (m->data2_len)
		memcpy(p, m->data2, m->data2_len);
	return len;
}

int keymsg_decode(const uint8_t *buf, size_t len, struct keymsg *m,
		  const char **why)
{
	size_t idl, dl, d2l;

	memset(m, 0, sizeof(*m));
	*why = "shorter than the header";
	if (len < KM_HDR_LEN)
		return -1;
	*why = "unknown version";
	if (buf[0] != KM_VERSION)
		return -1;
	*why = "unknown type";
	if (!type_known(buf[1]))
		return -1;
	idl = buf[10];
	dl = get32(buf + 16);
	d2l = get32(buf + 20);
	*why = "a length out of bounds";
	if (buf[11] || dl > KM_DATA_MAX || d2l > KM_DATA2_MAX)
		return -1;
	*why = "the lengths do not add up to the datagram's";
	if (KM_HDR_LEN + idl + dl + d2l != len)
		return -1;
	*why = "a NUL in the id";
	if (memchr(buf + KM_HDR_LEN, 0, idl))
		return -1;
	*why = "a rollback request that carries something";
	if (!payload_free_ok(buf[1], buf[2], buf[3], get16(buf + 8),
			     get32(buf + 12), idl, dl, d2l))
		return -1;
	m->type = buf[1];
	m->status = buf[2];
	m->method = buf[3];
	m->seq = get32(buf + 4);
	m->prf = get16(buf + 8);
	m->u32 = get32(buf + 12);
	memcpy(m->id, buf + KM_HDR_LEN, idl);
	m->id[idl] = '\0';
	m->data = dl ? buf + KM_HDR_LEN + idl : NULL;
	m->data_len = dl;
	m->data2 = d2l ? buf + KM_HDR_LEN + idl + dl : NULL;
	m->data2_len = d2l;
	*why = NULL;
	return 0;
}

int keymsg_next_id(const uint8_t *data, size_t len, size_t *off,
		   char id[KM_ID_MAX + 1])
{
	size_t n;

	if (*off >= len)
		return 0;
	n = data[*off];
	if (n == 0 || n > len - *off - 1 || memchr(data + *off + 1, 0, n))
		return -1;
	memcpy(id, data + *off + 1, n);
	id[n] = '\0';
	*off += 1 + n;
	return 1;
}

bool keymsg_add_id(uint8_t *data, size_t cap, size_t *len, const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > KM_ID_MAX || *len > cap || cap - *len < 1 + n)
		return false;
	data[*len] = (uint8_t)n;
	memcpy(data + *len + 1, id, n);
	*len += 1 + n;
	return true;
}

const char *keymsg_type_name(uint8_t type)
{
	static const char *const names[] = {
		[KM_RELOAD] = "reload", [KM_IDS] = "ids",
		[KM_HOST_CERT] = "host-cert", [KM_PSK_MAC] = "psk-mac",
		[KM_PSK_VERIFY] = "psk-verify", [KM_SIGN] = "sign",
		[KM_ROLLBACK] = "rollback", [KM_ROLLBACK_DROP] = "rollback-drop",
	};

	return type_known(type) ? names[type & ~KM_REPLY] : "unknown";
}
