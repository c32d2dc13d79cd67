// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_ike_crypto.c - ike/wire/wire_crypto.c against published known answers, plus
 * round trips of the Encrypted payload for every suite.
 *
 * Every vector names its source.  Where no published vector exists (PSK
 * AUTH, NAT detection, CHILD SA KEYMAT) the expected value was computed
 * independently with Python's hmac/hashlib from the RFC formula, and the
 * comment says so.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "wire/wire_crypto.h"

/* ---- helpers ------------------------------------------------------------------ */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2, i;

	assert_int_equal(strlen(hex) % 2, 0);
	assert_true(n <= cap);
	for (i = 0; i < n; i++) {
		unsigned int byte;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
		out[i] = (uint8_t)byte;
	}
	return n;
}

/* A hex string as bytes in a buffer the caller frees. */
static uint8_t *hexbuf(const char *hex, size_t *len)
{
	uint8_t *p = malloc(strlen(hex) / 2 + 1);

	assert_non_null(p);
	*len = unhex(hex, p, strlen(hex) / 2 + 1);
	return p;
}

static void assert_hex(const uint8_t *got, size_t len, const char *hex)
{
	size_t want_len;
	uint8_t *want = hexbuf(hex, &want_len);

	assert_int_equal(len, want_len);
	assert_memory_equal(got, want, len);
	free(want);
}

/* ---- HMAC-SHA2 as the PRF: RFC 4231 §4.2, §4.3, §4.7 --------------------------- */

struct prf_vector {
	uint16_t prf;
	const char *key, *data, *mac;
};

static const struct prf_vector rfc4231[] = {
	/* Test Case 1: key = 0x0b * 20, "Hi There" */
	{ IKEV2_PRF_HMAC_SHA2_256, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
	  "4869205468657265",
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
	{ IKEV2_PRF_HMAC_SHA2_384, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
	  "4869205468657265",
	  "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
	  "faea9ea9076ede7f4af152e8b2fa9cb6" },
	{ IKEV2_PRF_HMAC_SHA2_512, "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
	  "4869205468657265",
	  "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
	  "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854" },
	/* Test Case 2: key = "Jefe", "what do ya want for nothing?" */
	{ IKEV2_PRF_HMAC_SHA2_256, "4a656665",
	  "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ IKEV2_PRF_HMAC_SHA2_384, "4a656665",
	  "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
	  "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
	  "8e2240ca5e69e2c78b3239ecfab21649" },
	{ IKEV2_PRF_HMAC_SHA2_512, "4a656665",
	  "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
	  "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
	  "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737" },
};

static void test_prf_rfc4231(void **state)
{
	uint8_t out[IKE_PRF_MAX_LEN];
	size_t i, klen, dlen;

	(void)state;
	for (i = 0; i < sizeof(rfc4231) / sizeof(rfc4231[0]); i++) {
		uint8_t *key = hexbuf(rfc4231[i].key, &klen);
		uint8_t *data = hexbuf(rfc4231[i].data, &dlen);

		assert_int_equal(ike_prf(rfc4231[i].prf, key, klen, data, dlen,
					 out), IKE_CRYPTO_OK);
		assert_hex(out, ike_prf_len(rfc4231[i].prf), rfc4231[i].mac);
		free(key);
		free(data);
	}
}

/* RFC 4231 §4.7, Test Case 6: a key longer than the block is hashed first. */
static void test_prf_rfc4231_long_key(void **state)
{
	static const char data[] =
		"Test Using Larger Than Block-Size Key - Hash Key First";
	uint8_t key[131], out[IKE_PRF_MAX_LEN];

	(void)state;
	memset(key, 0xaa, sizeof(key));
	assert_int_equal(ike_prf(IKEV2_PRF_HMAC_SHA2_256, key, sizeof(key),
				 (const uint8_t *)data, strlen(data), out),
			 IKE_CRYPTO_OK);
	assert_hex(out, 32,
		   "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* ---- truncated integrity ICVs: RFC 4868 §2.7.2.2-2.7.2.4 -------------------------- */

struct icv_vector {
	uint16_t integ;
	uint8_t key_byte;	/* AUTHxxx-1: 0x0b repeated */
	const char *key_text;	/* AUTHxxx-2: "Jefe" repeated */
	const char *data, *icv;
};

static const struct icv_vector rfc4868[] = {
	{ IKEV2_INTEG_HMAC_SHA2_256_128, 0x0b, NULL, "Hi There",
	  "198a607eb44bfbc69903a0f1cf2bbdc5" },
	{ IKEV2_INTEG_HMAC_SHA2_384_192, 0x0b, NULL, "Hi There",
	  "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973" },
	{ IKEV2_INTEG_HMAC_SHA2_512_256, 0x0b, NULL, "Hi There",
	  "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8" },
	{ IKEV2_INTEG_HMAC_SHA2_256_128, 0, "Jefe",
	  "what do ya want for nothing?", "167f928588c5cc2eef8e3093caa0e87c" },
	{ IKEV2_INTEG_HMAC_SHA2_384_192, 0, "Jefe",
	  "what do ya want for nothing?",
	  "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184d" },
	{ IKEV2_INTEG_HMAC_SHA2_512_256, 0, "Jefe",
	  "what do ya want for nothing?",
	  "cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454" },
};

static void test_integ_rfc4868(void **state)
{
	uint8_t key[IKE_INTEG_MAX_KEY], icv[IKE_INTEG_MAX_ICV];
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(rfc4868) / sizeof(rfc4868[0]); i++) {
		const struct icv_vector *v = &rfc4868[i];
		size_t klen = ike_integ_key_len(v->integ);

		for (j = 0; j < klen; j++)
			key[j] = v->key_text ? (uint8_t)v->key_text[j % 4]
					     : v->key_byte;
		assert_int_equal(ike_integ_icv(v->integ, key,
					       (const uint8_t *)v->data,
					       strlen(v->data), icv),
				 IKE_CRYPTO_OK);
		assert_hex(icv, ike_integ_icv_len(v->integ), v->icv);
	}
}

/* ---- the IKEv2 KDF: NIST CAVP SP 800-135 IKEv2 vectors ---------------------------
 * COUNT 0 of [SHA-256] and [SHA-384] with Ni/Nr 64 bits, DKM 1056 bits, as
 * reproduced in NSS gtests/common/testvectors/ike-sha{256,384}-vectors.h
 * ("these vectors are from this NIST samples"). */

struct kdf_vector {
	uint16_t prf;
	const char *ni, *nr, *g_ir, *g_ir_new, *spi_i, *spi_r;
	const char *skeyseed, *dkm, *skeyseed_rekey;
};

static const struct kdf_vector cavp_ikev2[] = {
	{ IKEV2_PRF_HMAC_SHA2_256,
	  "3f302be1abcb28e1", "8c332ee006064c9b",
	  "0f4d257d7a58fc4545c7d7a88119eee5d5c9690c5b4c989171d3abbfd99d1d29",
	  "25f3b12d6f282739256e39bf54eda53b60ffcf379bb7bcc90c27b4c4c578616c",
	  "40dac39e1e1a8640", "8619a1cf9a6e4c07",
	  "5f00d1bd2c58ec224b1e6b71fa0f19a1faa7a193952c444411b47c1a9d8ba6fe",
	  "0b137d669b0947d7d026d593f0305ad401ff0c471357d695778a9c7f4b4869ec"
	  "e98aca531188d16041b3bb936d2dbb3b4993a6e768a809160de45d0283f273a6"
	  "cdf6854379e31be72b8d3d1fa990cf9c5b015ca9f918a7df6253c958114a09d4"
	  "e1c19bdcd4db14b29d98db1a74ad405c588662c14a04d0d36aa4ab55e90f8986"
	  "d12d4aad",
	  "2d63f6debc92048b4fef3889c4c99ca67d6496e0fac14a2bca9a2d6566ff2398" },
	{ IKEV2_PRF_HMAC_SHA2_384,
	  "fd1b572a8e735591", "6013b0ef88dacd3d",
	  "d3288cd87565101e88fe3bad918f31939d8dd26ff1071f8b2d7f447524e58d7c",
	  "3358f620539473aee8d07e779764c4c6a9aabddc79a28e136b3bac021dbde44a",
	  "2116ad07ce61f749", "24880e55f11a65b7",
	  "69fe7a1ac94adaeb711295f5fe004b1a8d6a0b65d05692758ce8ad2f7a45f59d"
	  "7d0b596f51f7dfcf3330061888f6a94f",
	  "4f904c2025c90c817ea5ff9b662a6fdb445a73b57cdf09eacd379b95e1f03cac"
	  "b04cd6deeda4f952191dd9bc1f7a9502471a648d74dc06d38112de48a42501f6"
	  "b1a3ad55c2099cd9a648e5f17e5bf3e34bf9b5953decb768a34f875fe2b78dca"
	  "0c2fcca81ec1a412006dfaed38fa06882e61f4c148105fb8e231fdb33c4d484c"
	  "001721d4",
	  "e0548c1682e13bce454026b3b1bdf42985b24e4e7408095a7c529de38c3d1fcb"
	  "04c9fe6868042a34c9614c6c99e3fcea" },
};

struct kdf_inputs {
	uint8_t ni[8], nr[8], g_ir[32], g_ir_new[32], seed[32];
	uint64_t spi_i, spi_r;
};

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void load_kdf(const struct kdf_vector *v, struct kdf_inputs *in)
{
	uint8_t spi[8];

	unhex(v->ni, in->ni, 8);
	unhex(v->nr, in->nr, 8);
	unhex(v->g_ir, in->g_ir, 32);
	unhex(v->g_ir_new, in->g_ir_new, 32);
	memcpy(in->seed, in->ni, 8);
	memcpy(in->seed + 8, in->nr, 8);
	unhex(v->spi_i, in->seed + 16, 8);
	unhex(v->spi_r, in->seed + 24, 8);
	memcpy(spi, in->seed + 16, 8);
	in->spi_i = be64(spi);
	in->spi_r = be64(in->seed + 24);
}

static void test_kdf_cavp_skeyseed_and_dkm(void **state)
{
	uint8_t skeyseed[IKE_PRF_MAX_LEN], dkm[132];
	struct kdf_inputs in;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cavp_ikev2) / sizeof(cavp_ikev2[0]); i++) {
		const struct kdf_vector *v = &cavp_ikev2[i];
		size_t hlen = ike_prf_len(v->prf);

		load_kdf(v, &in);
		assert_int_equal(ike_skeyseed(v->prf, in.ni, 8, in.nr, 8,
					      in.g_ir, 32, skeyseed),
				 IKE_CRYPTO_OK);
		assert_hex(skeyseed, hlen, v->skeyseed);
		/* DKM = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) */
		assert_int_equal(ike_prf_plus(v->prf, skeyseed, hlen, in.seed,
					      sizeof(in.seed), dkm, sizeof(dkm)),
				 IKE_CRYPTO_OK);
		assert_hex(dkm, sizeof(dkm), v->dkm);
	}
}

static void test_kdf_cavp_rekey(void **state)
{
	uint8_t out[IKE_PRF_MAX_LEN], dkm[132];
	struct ike_sa_keys old;
	struct kdf_inputs in;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cavp_ikev2) / sizeof(cavp_ikev2[0]); i++) {
		const struct kdf_vector *v = &cavp_ikev2[i];

		load_kdf(v, &in);
		memset(&old, 0, sizeof(old));
		old.suite.prf = v->prf;
		old.prf_len = ike_prf_len(v->prf);
		unhex(v->dkm, dkm, sizeof(dkm));
		memcpy(old.sk_d, dkm, old.prf_len);	/* SK_d opens the DKM */
		assert_int_equal(ike_skeyseed_rekey(&old, in.g_ir_new, 32,
						    in.ni, 8, in.nr, 8, out),
				 IKE_CRYPTO_OK);
		assert_hex(out, old.prf_len, v->skeyseed_rekey);
	}
}

/* The split of prf+ into SK_d .. SK_pr follows §2.14's order and sizes:
 * laid end to end, the keys must repeat the published DKM. */
static void check_split(const struct kdf_vector *v, const struct ike_suite *s)
{
	uint8_t skeyseed[IKE_PRF_MAX_LEN], joined[512], dkm[132];
	struct ike_sa_keys k;
	struct kdf_inputs in;
	size_t n = 0;

	load_kdf(v, &in);
	unhex(v->skeyseed, skeyseed, sizeof(skeyseed));
	unhex(v->dkm, dkm, sizeof(dkm));
	assert_int_equal(ike_sa_keys_derive(&k, s, skeyseed, in.ni, 8, in.nr,
					    8, in.spi_i, in.spi_r),
			 IKE_CRYPTO_OK);
#define JOIN(f, len) (memcpy(joined + n, k.f, len), n += len)
	JOIN(sk_d, k.prf_len);
	JOIN(sk_ai, k.integ_len);
	JOIN(sk_ar, k.integ_len);
	JOIN(sk_ei, k.encr_len);
	JOIN(sk_er, k.encr_len);
	JOIN(sk_pi, k.prf_len);
	JOIN(sk_pr, k.prf_len);
#undef JOIN
	assert_true(n >= sizeof(dkm));
	assert_memory_equal(joined, dkm, sizeof(dkm));
	ike_sa_keys_wipe(&k);
}

static void test_kdf_cavp_key_split(void **state)
{
	const struct ike_suite cbc = { IKEV2_ENCR_AES_CBC, 128,
		IKEV2_INTEG_HMAC_SHA2_256_128, IKEV2_PRF_HMAC_SHA2_256,
		IKEV2_DH_ECP_256 };
	const struct ike_suite gcm = { IKEV2_ENCR_AES_GCM_16, 256,
		IKEV2_INTEG_NONE, IKEV2_PRF_HMAC_SHA2_384, IKEV2_DH_ECP_384 };

	(void)state;
	check_split(&cavp_ikev2[0], &cbc);
	check_split(&cavp_ikev2[1], &gcm);
}

static void test_prf_plus_limit(void **state)
{
	uint8_t key[32] = { 1 }, seed[8] = { 2 }, *out;
	size_t max = 255 * 32;

	(void)state;
	out = malloc(max + 1);
	assert_non_null(out);
	assert_int_equal(ike_prf_plus(IKEV2_PRF_HMAC_SHA2_256, key, 32, seed, 8,
				      out, max), IKE_CRYPTO_OK);
	assert_int_equal(ike_prf_plus(IKEV2_PRF_HMAC_SHA2_256, key, 32, seed, 8,
				      out, max + 1), IKE_CRYPTO_E_ARGUMENT);
	assert_int_equal(ike_prf_plus(IKEV2_PRF_HMAC_SHA1, key, 32, seed, 8,
				      out, 32), IKE_CRYPTO_E_UNSUPPORTED);
	free(out);
}

/* CHILD SA KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (§2.17), split
 * encr_i | integ_i | encr_r | integ_r.  Inputs: the SHA-256 CAVP vector's
 * SK_d, Ni, Nr and g^ir (new); expected values computed independently
 * with Python's hmac module. */
static void test_child_keys(void **state)
{
	const struct ike_suite gcm = { IKEV2_ENCR_AES_GCM_16, 128,
		IKEV2_INTEG_NONE, 0, 0 };
	const struct ike_suite cbc = { IKEV2_ENCR_AES_CBC, 256,
		IKEV2_INTEG_HMAC_SHA2_256_128, 0, 0 };
	struct ike_child_keys ck;
	struct ike_sa_keys ike;
	struct kdf_inputs in;
	uint8_t keymat[128];

	(void)state;
	load_kdf(&cavp_ikev2[0], &in);
	memset(&ike, 0, sizeof(ike));
	ike.suite.prf = IKEV2_PRF_HMAC_SHA2_256;
	ike.prf_len = 32;
	unhex("0b137d669b0947d7d026d593f0305ad401ff0c471357d695778a9c7f4b4869ec",
	      ike.sk_d, 32);

	assert_int_equal(ike_child_keys_derive(&ck, &ike, &gcm, NULL, 0, in.ni,
					       8, in.nr, 8), IKE_CRYPTO_OK);
	unhex("7d808e2b44635300e7025f1b640c431b13a9b3b8"
	      "91cd45a15261f4f3c4a7e39b3a3c8017ccc2b746", keymat, 40);
	assert_int_equal(ck.encr_len, 20);	/* 16 key + 4 salt */
	assert_int_equal(ck.integ_len, 0);
	assert_memory_equal(ck.encr_i, keymat, 20);
	assert_memory_equal(ck.encr_r, keymat + 20, 20);

	assert_int_equal(ike_child_keys_derive(&ck, &ike, &cbc, in.g_ir_new, 32,
					       in.ni, 8, in.nr, 8),
			 IKE_CRYPTO_OK);
	unhex("67edd256e64542436173e3ca39ef1fdec3c8240b860df26f84caf5258578ff35"
	      "df40ddc31ea210e0523988b7531c9dc3207e0e98e256214999c7712f73ff044a"
	      "9cf6e3a5e421862b9ba140862f460ea5236527cf8346db9ac23feb6636e21fc7"
	      "a18a94a2e9d4ad95356e278f46ac3fa53a75a058c87293cf38dd863e879f84d0",
	      keymat, 128);
	assert_memory_equal(ck.encr_i, keymat, 32);
	assert_memory_equal(ck.integ_i, keymat + 32, 32);
	assert_memory_equal(ck.encr_r, keymat + 64, 32);
	assert_memory_equal(ck.integ_r, keymat + 96, 32);
	ike_child_keys_wipe(&ck);
}

/* ---- AES-CBC: NIST SP 800-38A F.2.1/F.2.2 and F.2.5/F.2.6 ------------------------- */

static const char sp800_38a_plain[] =
	"6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
	"30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

static void check_cbc(const char *key_hex, const char *cipher_hex)
{
	uint8_t key[32], iv[16], plain[64], cipher[64], out[64];
	size_t klen = unhex(key_hex, key, sizeof(key));

	unhex("000102030405060708090a0b0c0d0e0f", iv, sizeof(iv));
	unhex(sp800_38a_plain, plain, sizeof(plain));
	unhex(cipher_hex, cipher, sizeof(cipher));
	assert_int_equal(ike_aes_cbc(true, key, klen, iv, plain, 64, out),
			 IKE_CRYPTO_OK);
	assert_memory_equal(out, cipher, 64);
	assert_int_equal(ike_aes_cbc(false, key, klen, iv, cipher, 64, out),
			 IKE_CRYPTO_OK);
	assert_memory_equal(out, plain, 64);
	assert_int_equal(ike_aes_cbc(true, key, klen, iv, plain, 63, out),
			 IKE_CRYPTO_E_ARGUMENT);
}

static void test_aes_cbc_sp800_38a(void **state)
{
	(void)state;
	check_cbc("2b7e151628aed2a6abf7158809cf4f3c",	/* CBC-AES128 */
		  "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
		  "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7");
	check_cbc("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
		  "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
		  "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b");
}

/* ---- AES-GCM: McGrew & Viega, "The Galois/Counter Mode of Operation",
 * Test Cases 2, 4 (AES-128) and 16 (AES-256) --------------------------------------- */

struct gcm_vector {
	const char *key, *iv, *aad, *plain, *cipher, *tag;
};

static const char gcm_plain[] =
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";

static const struct gcm_vector gcm_spec[] = {
	{ "00000000000000000000000000000000", "000000000000000000000000", "",
	  "00000000000000000000000000000000",
	  "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf" },
	{ "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
	  "feedfacedeadbeeffeedfacedeadbeefabaddad2", gcm_plain,
	  "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
	  "5bc94fbc3221a5db94fae95ae7121a47" },
	{ "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	  gcm_plain,
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	  "76fc6ece0f4e1768cddf8853bb2d551b" },
};

static void check_gcm(const struct gcm_vector *v)
{
	uint8_t key[32], nonce[12], aad[20], plain[64], out[64], tag[16];
	size_t klen = unhex(v->key, key, sizeof(key));
	size_t alen = unhex(v->aad, aad, sizeof(aad));
	size_t plen = unhex(v->plain, plain, sizeof(plain));

	unhex(v->iv, nonce, sizeof(nonce));
	assert_int_equal(ike_aes_gcm_seal(key, klen, nonce, aad, alen, plain,
					  plen, out, tag), IKE_CRYPTO_OK);
	assert_hex(out, plen, v->cipher);
	assert_hex(tag, 16, v->tag);

	assert_int_equal(ike_aes_gcm_open(key, klen, nonce, aad, alen, out,
					  plen, tag, plain), IKE_CRYPTO_OK);
	assert_hex(plain, plen, v->plain);
	tag[15] ^= 1;
	assert_int_equal(ike_aes_gcm_open(key, klen, nonce, aad, alen, out,
					  plen, tag, plain), IKE_CRYPTO_E_ICV);
}

static void test_aes_gcm_spec(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(gcm_spec) / sizeof(gcm_spec[0]); i++)
		check_gcm(&gcm_spec[i]);
}

/* ---- Diffie-Hellman ------------------------------------------------------------- */

struct dh_vector {
	uint16_t group;
	const char *priv_i, *pub_i, *priv_r, *pub_r, *shared;
};

static const struct dh_vector dh_vectors[] = {
	/* RFC 5903 §8.1, 256-bit Random ECP Group: KE data is gx | gy */
	{ IKEV2_DH_ECP_256,
	  "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
	  "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
	  "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3",
	  "C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53",
	  "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
	  "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB",
	  "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE" },
	/* RFC 5903 §8.2, 384-bit Random ECP Group */
	{ IKEV2_DH_ECP_384,
	  "099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655"
	  "E35B538041E649EE3FAEF896783AB194",
	  "667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6"
	  "DE3AC808ACB4BDB4C88732AEE95F41AA9482ED1FC0EEB9CAFC4984625CCFC23F"
	  "65032149E0E144ADA024181535A0F38EEB9FCFF3C2C947DAE69B4C634573A81C",
	  "41CB0779B4BDB85D47846725FBEC3C9430FAB46CC8DC5060855CC9BDA0AA2942"
	  "E0308312916B8ED2960E4BD55A7448FC",
	  "E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D"
	  "0D1AC43A0336DEF96FDA41D0774A3571DCFBEC7AACF3196472169E838430367F"
	  "66EEBE3C6E70C416DD5F0C68759DD1FFF83FA40142209DFF5EAAD96DB9E6386C",
	  "11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4"
	  "D603135569B9E9D09CF5D4A270F59746" },
	/* RFC 7748 §6.1, X25519 (Alice = i, Bob = r) */
	{ IKEV2_DH_CURVE25519,
	  "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
	  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
	  "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
	  "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
	  "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742" },
};

/* One side: our public value and the secret from the peer's. */
static void check_dh_side(uint16_t group, const char *priv_hex,
			  const char *pub_hex, const char *peer_hex,
			  const char *shared_hex)
{
	uint8_t priv[48], peer[96], pub[IKE_DH_MAX_LEN], secret[IKE_DH_MAX_LEN];
	size_t plen = unhex(priv_hex, priv, sizeof(priv));
	size_t peer_len = unhex(peer_hex, peer, sizeof(peer)), len;
	struct ike_dh *dh;

	assert_int_equal(ike_dh_from_private(group, priv, plen, &dh),
			 IKE_CRYPTO_OK);
	assert_int_equal(ike_dh_group(dh), group);
	assert_int_equal(ike_dh_public(dh, pub, sizeof(pub), &len),
			 IKE_CRYPTO_OK);
	assert_int_equal(len, ike_dh_public_len(group));
	assert_hex(pub, len, pub_hex);
	assert_int_equal(ike_dh_shared(dh, peer, peer_len, secret,
				       sizeof(secret), &len), IKE_CRYPTO_OK);
	assert_hex(secret, len, shared_hex);
	ike_dh_free(dh);
}

static void test_dh_published(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dh_vectors) / sizeof(dh_vectors[0]); i++) {
		const struct dh_vector *v = &dh_vectors[i];

		check_dh_side(v->group, v->priv_i, v->pub_i, v->pub_r, v->shared);
		check_dh_side(v->group, v->priv_r, v->pub_r, v->pub_i, v->shared);
	}
}

/* A peer value that is the wrong length, off the curve or out of range
 * is refused before any secret is computed. */
static void expect_bad_public(struct ike_dh *dh, const uint8_t *peer,
			      size_t len)
{
	uint8_t secret[IKE_DH_MAX_LEN];
	size_t out_len;

	assert_int_equal(ike_dh_shared(dh, peer, len, secret, sizeof(secret),
				       &out_len), IKE_CRYPTO_E_BAD_PUBLIC);
}

static void test_dh_rejects_bad_public(void **state)
{
	uint8_t peer[IKE_DH_MAX_LEN];
	const uint16_t groups[] = { IKEV2_DH_ECP_256, IKEV2_DH_ECP_384,
				    IKEV2_DH_CURVE25519, IKEV2_DH_MODP_2048 };
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		struct ike_dh *dh;

		assert_int_equal(ike_dh_new(groups[i], &dh), IKE_CRYPTO_OK);
		assert_int_equal(ike_dh_public(dh, peer, sizeof(peer), &len),
				 IKE_CRYPTO_OK);
		expect_bad_public(dh, peer, len - 1);
		if (groups[i] == IKEV2_DH_ECP_256 ||
		    groups[i] == IKEV2_DH_ECP_384) {
			peer[len - 1] ^= 1;	/* y no longer fits x */
			expect_bad_public(dh, peer, len);
		}
		memset(peer, 0, len);	/* X25519: small order; MODP: 0 */
		expect_bad_public(dh, peer, len);
		if (groups[i] == IKEV2_DH_MODP_2048) {
			peer[len - 1] = 1;	/* y = 1 */
			expect_bad_public(dh, peer, len);
		}
		ike_dh_free(dh);
	}
}

/* MODP-2048 has no published IKE vector: both sides must agree, and
 * g^1 = 2 checks the public encoding (big-endian, padded to 256). */
static void test_dh_modp2048(void **state)
{
	uint8_t pub_a[256], pub_b[256], s_a[256], s_b[256], one = 1;
	size_t la, lb;
	struct ike_dh *a, *b, *unit;

	(void)state;
	assert_int_equal(ike_dh_new(IKEV2_DH_MODP_2048, &a), IKE_CRYPTO_OK);
	assert_int_equal(ike_dh_new(IKEV2_DH_MODP_2048, &b), IKE_CRYPTO_OK);
	assert_int_equal(ike_dh_public(a, pub_a, sizeof(pub_a), &la),
			 IKE_CRYPTO_OK);
	assert_int_equal(ike_dh_public(b, pub_b, sizeof(pub_b), &lb),
			 IKE_CRYPTO_OK);
	assert_int_equal(la, 256);
	assert_int_equal(lb, 256);
	assert_memory_not_equal(pub_a, pub_b, 256);
	assert_int_equal(ike_dh_shared(a, pub_b, 256, s_a, sizeof(s_a), &la),
			 IKE_CRYPTO_OK);
	assert_int_equal(ike_dh_shared(b, pub_a, 256, s_b, sizeof(s_b), &lb),
			 IKE_CRYPTO_OK);
	assert_int_equal(la, 256);
	assert_int_equal(lb, 256);
	assert_memory_equal(s_a, s_b, 256);

	assert_int_equal(ike_dh_from_private(IKEV2_DH_MODP_2048, &one, 1,
					     &unit), IKE_CRYPTO_OK);
	assert_int_equal(ike_dh_public(unit, pub_a, sizeof(pub_a), &la),
			 IKE_CRYPTO_OK);
	memset(pub_b, 0, sizeof(pub_b));
	pub_b[255] = 2;
	assert_memory_equal(pub_a, pub_b, 256);
	ike_dh_free(unit);
	ike_dh_free(a);
	ike_dh_free(b);
}

/* One key pair derives with several peers in turn, as the responder's
 * shared pair does (dh_reuse.h), a bad value between them changing
 * nothing: each secret is the one the peer computes. */
static void test_dh_one_pair_many_peers(void **state)
{
	const uint16_t groups[] = { IKEV2_DH_CURVE25519, IKEV2_DH_ECP_256,
				    IKEV2_DH_MODP_2048 };
	uint8_t pub[IKE_DH_MAX_LEN], pub_p[IKE_DH_MAX_LEN];
	uint8_t s_me[IKE_DH_MAX_LEN], s_peer[IKE_DH_MAX_LEN];
	size_t g, i, len, plen, l1, l2;

	(void)state;
	for (g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		struct ike_dh *me, *peer[3];

		assert_int_equal(ike_dh_new(groups[g], &me), IKE_CRYPTO_OK);
		assert_int_equal(ike_dh_public(me, pub, sizeof(pub), &len),
				 IKE_CRYPTO_OK);
		for (i = 0; i < 3; i++)
			assert_int_equal(ike_dh_new(groups[g], &peer[i]),
					 IKE_CRYPTO_OK);
		for (i = 0; i < 4; i++) {
			struct ike_dh *p = peer[i % 3];

			assert_int_equal(ike_dh_public(p, pub_p, sizeof(pub_p),
						       &plen), IKE_CRYPTO_OK);
			assert_int_equal(ike_dh_shared(me, pub_p, plen, s_me,
					 sizeof(s_me), &l1), IKE_CRYPTO_OK);
			assert_int_equal(ike_dh_shared(p, pub, len, s_peer,
					 sizeof(s_peer), &l2), IKE_CRYPTO_OK);
			assert_int_equal(l1, l2);
			assert_memory_equal(s_me, s_peer, l1);
			memset(pub_p, 0, plen);
			expect_bad_public(me, pub_p, plen);
		}
		for (i = 0; i < 3; i++)
			ike_dh_free(peer[i]);
		ike_dh_free(me);
	}
}

/* ike_random: every length, never the same bytes twice, and a forked
 * child does not draw what its parent draws next (the pool is per
 * process). */
static void test_random(void **state)
{
	uint8_t a[600], b[600], mine[32], childs[32];
	size_t len;
	int fds[2], status;
	pid_t pid;

	(void)state;
	for (len = 1; len <= sizeof(a); len += 37) {
		memset(a, 0, sizeof(a));
		memset(b, 0, sizeof(b));
		assert_int_equal(ike_random(a, len), IKE_CRYPTO_OK);
		assert_int_equal(ike_random(b, len), IKE_CRYPTO_OK);
		if (len >= 8)
			assert_memory_not_equal(a, b, len);
		assert_true(a[len] == 0 && b[len] == 0);	/* no overrun */
	}
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ssize_t n = -1;

		if (ike_random(childs, sizeof(childs)) == IKE_CRYPTO_OK)
			n = write(fds[1], childs, sizeof(childs));
		_exit(n == (ssize_t)sizeof(childs) ? 0 : 1);
	}
	assert_int_equal(ike_random(mine, sizeof(mine)), IKE_CRYPTO_OK);
	assert_int_equal(read(fds[0], childs, sizeof(childs)),
			 (ssize_t)sizeof(childs));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_memory_not_equal(mine, childs, sizeof(mine));
	close(fds[0]);
	close(fds[1]);
}

static void test_dh_unsupported(void **state)
{
	struct ike_dh *dh = (struct ike_dh *)&dh;	/* anything not NULL */

	(void)state;
	assert_int_equal(ike_dh_new(IKEV2_DH_MODP_1024, &dh),
			 IKE_CRYPTO_E_UNSUPPORTED);
	assert_null(dh);
	assert_int_equal(ike_dh_public_len(IKEV2_DH_MODP_768), 0);
	ike_dh_free(NULL);
}

/* ---- the Encrypted payload --------------------------------------------------------- */

static const struct ike_suite sk_suites[] = {
	{ IKEV2_ENCR_AES_GCM_16, 128, IKEV2_INTEG_NONE,
	  IKEV2_PRF_HMAC_SHA2_256, IKEV2_DH_ECP_256 },
	{ IKEV2_ENCR_AES_GCM_16, 256, IKEV2_INTEG_NONE,
	  IKEV2_PRF_HMAC_SHA2_384, IKEV2_DH_CURVE25519 },
	{ IKEV2_ENCR_AES_CBC, 128, IKEV2_INTEG_HMAC_SHA2_256_128,
	  IKEV2_PRF_HMAC_SHA2_256, IKEV2_DH_MODP_2048 },
	{ IKEV2_ENCR_AES_CBC, 256, IKEV2_INTEG_HMAC_SHA2_384_192,
	  IKEV2_PRF_HMAC_SHA2_384, IKEV2_DH_ECP_384 },
	{ IKEV2_ENCR_AES_CBC, 256, IKEV2_INTEG_HMAC_SHA2_512_256,
	  IKEV2_PRF_HMAC_SHA2_512, IKEV2_DH_ECP_256 },
};

static void make_keys(const struct ike_suite *s, struct ike_sa_keys *k)
{
	uint8_t skeyseed[IKE_PRF_MAX_LEN], ni[32], nr[32];

	assert_int_equal(ike_random(skeyseed, sizeof(skeyseed)), IKE_CRYPTO_OK);
	assert_int_equal(ike_random(ni, sizeof(ni)), IKE_CRYPTO_OK);
	assert_int_equal(ike_random(nr, sizeof(nr)), IKE_CRYPTO_OK);
	assert_int_equal(ike_sa_keys_derive(k, s, skeyseed, ni, 32, nr, 32,
					    0x1122334455667788ULL,
					    0x99aabbccddeeff00ULL),
			 IKE_CRYPTO_OK);
}

static const struct ike_header auth_header = {
	.ispi = 0x1122334455667788ULL, .rspi = 0x99aabbccddeeff00ULL,
	.version = IKEV2_VERSION, .exchange = IKEV2_EXCH_IKE_AUTH,
	.flags = IKEV2_FLAG_INITIATOR, .msgid = 1,
};

/* An IKE_AUTH-like inner chain: IDi, AUTH, N(INITIAL_CONTACT). */
static size_t build_inner(uint8_t *buf, size_t cap, uint8_t *first)
{
	static const uint8_t fqdn[] = "alice.example";
	static const uint8_t auth_data[32] = { 0xa5 };
	struct ike_builder b;
	size_t len;

	ike_build_chain(&b, buf, cap);
	ike_add_id(&b, IKEV2_PL_IDI, &(struct ike_id){ IKEV2_ID_FQDN, fqdn,
						       sizeof(fqdn) - 1 });
	ike_add_auth(&b, &(struct ike_auth){ .method = IKEV2_AUTH_PSK,
					     .data = auth_data, .len = 32 });
	ike_add_notify(&b, &(struct ike_notify){ .protocol = IKEV2_PROTO_IKE,
					.type = IKEV2_N_INITIAL_CONTACT });
	assert_int_equal(ike_build_finish(&b, &len), IKE_MSG_OK);
	*first = b.first;
	return len;
}

static size_t seal_one(const struct ike_sa_keys *k, uint8_t *out, size_t cap,
		       uint8_t *inner, size_t *inner_len)
{
	uint8_t first;
	size_t len;

	*inner_len = build_inner(inner, 256, &first);
	assert_int_equal(first, IKEV2_PL_IDI);
	assert_int_equal(ike_sk_seal(k, true, &auth_header, first, inner,
				     *inner_len, out, cap, &len), IKE_CRYPTO_OK);
	assert_true(len <= *inner_len + ike_sk_overhead(&k->suite));
	return len;
}

static void check_round_trip(const struct ike_suite *s)
{
	uint8_t msgbuf[512], inner[256], plain[512];
	struct ike_sa_keys k;
	struct ike_msg msg;
	struct ike_id id;
	size_t len, inner_len, plain_len;

	make_keys(s, &k);
	len = seal_one(&k, msgbuf, sizeof(msgbuf), inner, &inner_len);
	assert_int_equal(ike_msg_parse(msgbuf, len, &msg), IKE_MSG_OK);
	assert_int_equal(msg.hdr.next_payload, IKEV2_PL_SK);
	assert_int_equal(msg.hdr.msgid, 1);

	/* the wrong direction's keys do not open it */
	assert_int_equal(ike_sk_open(&k, false, &msg, plain, sizeof(plain),
				     &plain_len), IKE_CRYPTO_E_ICV);
	assert_int_equal(ike_sk_open(&k, true, &msg, plain, sizeof(plain),
				     &plain_len), IKE_CRYPTO_OK);
	assert_int_equal(plain_len, inner_len);
	assert_memory_equal(plain, inner, inner_len);

	assert_int_equal(ike_msg_add_decrypted(&msg, plain, plain_len),
			 IKE_MSG_OK);
	assert_int_equal(ike_decode_id(ike_msg_find(&msg, IKEV2_PL_IDI, NULL),
				       &id), IKE_MSG_OK);
	assert_int_equal(id.len, 13);
	assert_memory_equal(id.data, "alice.example", 13);
	assert_non_null(ike_msg_find(&msg, IKEV2_PL_AUTH, NULL));
	ike_sa_keys_wipe(&k);
}

static void test_sk_round_trip(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sk_suites) / sizeof(sk_suites[0]); i++)
		check_round_trip(&sk_suites[i]);
}

/* RFC 7383: an inner chain in three Encrypted Fragments, each opened on
 * its own; the pieces put together are the chain; only fragment 1 names
 * the first payload; the fragment numbers are authenticated (changed, the
 * ICV fails); number 0 or above the total is refused. */
static void check_fragments(const struct ike_suite *s)
{
	uint8_t inner[256], frag[3][256], plain[256], joined[256];
	size_t inner_len, flen[3], off = 0, piece, plain_len, joined_len = 0;
	struct ike_sa_keys k;
	struct ike_msg msg;
	uint8_t first;
	uint16_t i;

	make_keys(s, &k);
	inner_len = build_inner(inner, sizeof(inner), &first);
	piece = (inner_len + 2) / 3;
	for (i = 0; i < 3; i++) {
		size_t n = inner_len - off < piece ? inner_len - off : piece;

		assert_int_equal(ike_skf_seal(&k, true, &auth_header, first,
					      (uint16_t)(i + 1), 3, inner + off,
					      n, frag[i], sizeof(frag[i]),
					      &flen[i]), IKE_CRYPTO_OK);
		assert_true(flen[i] <= n + ike_skf_overhead(&k.suite));
		off += n;
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(ike_msg_parse(frag[i], flen[i], &msg),
				 IKE_MSG_OK);
		assert_int_equal(msg.hdr.next_payload, IKEV2_PL_SKF);
		assert_int_equal(msg.pl[msg.sk_index].next,
				 i == 0 ? IKEV2_PL_IDI : 0);
		assert_int_equal(msg.pl[msg.sk_index].body[1], i + 1);
		assert_int_equal(msg.pl[msg.sk_index].body[3], 3);
		assert_int_equal(ike_sk_open(&k, true, &msg, plain,
					     sizeof(plain), &plain_len),
				 IKE_CRYPTO_OK);
		memcpy(joined + joined_len, plain, plain_len);
		joined_len += plain_len;
	}
	assert_int_equal(joined_len, inner_len);
	assert_memory_equal(joined, inner, inner_len);
	/* fragment 2 claiming to be fragment 1 */
	frag[1][IKEV2_HEADER_LEN + 5] = 1;
	assert_int_equal(ike_msg_parse(frag[1], flen[1], &msg), IKE_MSG_OK);
	assert_int_equal(ike_sk_open(&k, true, &msg, plain, sizeof(plain),
				     &plain_len), IKE_CRYPTO_E_ICV);
	assert_int_equal(ike_skf_seal(&k, true, &auth_header, first, 0, 3,
				      inner, 10, frag[0], sizeof(frag[0]),
				      &flen[0]), IKE_CRYPTO_E_ARGUMENT);
	assert_int_equal(ike_skf_seal(&k, true, &auth_header, first, 4, 3,
				      inner, 10, frag[0], sizeof(frag[0]),
				      &flen[0]), IKE_CRYPTO_E_ARGUMENT);
	ike_sa_keys_wipe(&k);
}

static void test_skf_fragments(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sk_suites) / sizeof(sk_suites[0]); i++)
		check_fragments(&sk_suites[i]);
}

/* Flip each bit position's byte in turn: either the message no longer
 * parses, or the SK payload fails its integrity check.  The header, the
 * SK header, IV, ciphertext and ICV are all covered. */
static void check_tamper(const struct ike_suite *s)
{
	uint8_t msgbuf[512], inner[256], plain[512];
	struct ike_sa_keys k;
	struct ike_msg msg;
	size_t len, inner_len, plain_len, i, opened = 0;

	make_keys(s, &k);
	len = seal_one(&k, msgbuf, sizeof(msgbuf), inner, &inner_len);
	for (i = 0; i < len; i++) {
		msgbuf[i] ^= 0x01;
		if (ike_msg_parse(msgbuf, len, &msg) == IKE_MSG_OK) {
			assert_int_equal(ike_sk_open(&k, true, &msg, plain,
						     sizeof(plain), &plain_len),
					 IKE_CRYPTO_E_ICV);
			opened++;
		}
		msgbuf[i] ^= 0x01;
	}
	/* all but the version and length fields still parse */
	assert_true(opened >= len - 8);
	ike_sa_keys_wipe(&k);
}

static void test_sk_tamper(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sk_suites) / sizeof(sk_suites[0]); i++)
		check_tamper(&sk_suites[i]);
}

/*
 * Assemble an SK message by hand from the RFC text rather than with
 * ike_sk_seal: header | SK header | IV | E(data) | ICV, where data is the
 * payloads, padding and pad length.  AES-GCM (RFC 5282): key and salt are
 * the front and the last 4 bytes of SK_ei, nonce = salt | IV, AAD = the
 * 32 bytes before the IV.  AES-CBC (§3.14): HMAC over all before the ICV.
 */
static size_t hand_sealed(const struct ike_sa_keys *k, const uint8_t *data,
			  size_t data_len, uint8_t *m)
{
	bool gcm = ike_encr_is_aead(k->suite.encr);
	size_t iv_len = gcm ? 8 : 16, icv_len = gcm ? 16 :
				  ike_integ_icv_len(k->suite.integ);
	size_t total = 32 + iv_len + data_len + icv_len;
	struct ike_header h = auth_header;
	uint8_t *iv = m + 32, *ct = iv + iv_len, nonce[12];

	h.next_payload = IKEV2_PL_SK;
	h.length = (uint32_t)total;
	ike_header_encode(&h, m);
	m[28] = IKEV2_PL_IDI;
	m[29] = 0;
	m[30] = (uint8_t)((total - 28) >> 8);
	m[31] = (uint8_t)(total - 28);
	memset(iv, 0x42, iv_len);
	if (gcm) {
		memcpy(nonce, k->sk_ei + k->encr_len - 4, 4);
		memcpy(nonce + 4, iv, 8);
		assert_int_equal(ike_aes_gcm_seal(k->sk_ei, k->encr_len - 4,
						  nonce, m, 32, data, data_len,
						  ct, ct + data_len),
				 IKE_CRYPTO_OK);
	} else {
		assert_int_equal(ike_aes_cbc(true, k->sk_ei, k->encr_len, iv,
					     data, data_len, ct), IKE_CRYPTO_OK);
		assert_int_equal(ike_integ_icv(k->suite.integ, k->sk_ai, m,
					       total - icv_len, ct + data_len),
				 IKE_CRYPTO_OK);
	}
	return total;
}

/* Open a hand-built message: the plaintext length, or -1 with *err. */
static long open_hand_sealed(const struct ike_sa_keys *k, const uint8_t *data,
			     size_t data_len, uint8_t *plain,
			     enum ike_crypto_err *err)
{
	uint8_t m[512];
	struct ike_msg msg;
	size_t len = hand_sealed(k, data, data_len, m), plain_len = 0;

	assert_int_equal(ike_msg_parse(m, len, &msg), IKE_MSG_OK);
	*err = ike_sk_open(k, true, &msg, plain, 512, &plain_len);
	return *err == IKE_CRYPTO_OK ? (long)plain_len : -1;
}

static void test_sk_open_hand_built(void **state)
{
	uint8_t data[320], plain[512], first;
	enum ike_crypto_err err;
	struct ike_sa_keys k;
	size_t i, inner_len, pad;

	(void)state;
	for (i = 0; i < sizeof(sk_suites) / sizeof(sk_suites[0]); i++) {
		make_keys(&sk_suites[i], &k);
		inner_len = build_inner(data, 256, &first);
		/* more padding than needed is legal (§3.14): one block extra */
		pad = 16 + (16 - (inner_len + 1) % 16) % 16;
		memset(data + inner_len, 0, pad);
		data[inner_len + pad] = (uint8_t)pad;
		assert_int_equal(open_hand_sealed(&k, data, inner_len + pad + 1,
						  plain, &err),
				 (long)inner_len);
		assert_memory_equal(plain, data, inner_len);
		ike_sa_keys_wipe(&k);
	}
}

/* The pad length may cover every byte but itself, no more. */
static void test_sk_padding_bounds(void **state)
{
	uint8_t block[16], plain[512];
	enum ike_crypto_err err;
	struct ike_sa_keys k;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sk_suites) / sizeof(sk_suites[0]); i++) {
		make_keys(&sk_suites[i], &k);
		memset(block, 0, sizeof(block));
		block[15] = 15;
		assert_int_equal(open_hand_sealed(&k, block, 16, plain, &err), 0);
		block[15] = 16;
		assert_int_equal(open_hand_sealed(&k, block, 16, plain, &err), -1);
		assert_int_equal(err, IKE_CRYPTO_E_PADDING);
		block[15] = 255;
		assert_int_equal(open_hand_sealed(&k, block, 16, plain, &err), -1);
		assert_int_equal(err, IKE_CRYPTO_E_PADDING);
		ike_sa_keys_wipe(&k);
	}
}

static void test_sk_short_and_misaligned(void **state)
{
	static const uint8_t tiny[8];
	uint8_t buf[128], plain[128];
	struct ike_sa_keys gcm, cbc;
	struct ike_builder b;
	struct ike_msg msg;
	size_t len, plain_len;

	(void)state;
	make_keys(&sk_suites[0], &gcm);
	make_keys(&sk_suites[2], &cbc);
	ike_build_message(&b, buf, sizeof(buf), &auth_header);
	ike_add_raw(&b, IKEV2_PL_SK, false, tiny, sizeof(tiny));
	assert_int_equal(ike_build_finish(&b, &len), IKE_MSG_OK);
	assert_int_equal(ike_msg_parse(buf, len, &msg), IKE_MSG_OK);
	assert_int_equal(ike_sk_open(&gcm, true, &msg, plain, sizeof(plain),
				     &plain_len), IKE_CRYPTO_E_SK_LENGTH);
	assert_int_equal(ike_sk_open(&cbc, true, &msg, plain, sizeof(plain),
				     &plain_len), IKE_CRYPTO_E_SK_LENGTH);

	ike_build_message(&b, buf, sizeof(buf), &auth_header);
	ike_add_raw(&b, IKEV2_PL_NONCE, false, buf, 16);
	assert_int_equal(ike_build_finish(&b, &len), IKE_MSG_OK);
	assert_int_equal(ike_msg_parse(buf, len, &msg), IKE_MSG_OK);
	assert_int_equal(ike_sk_open(&gcm, true, &msg, plain, sizeof(plain),
				     &plain_len), IKE_CRYPTO_E_NO_SK);
	ike_sa_keys_wipe(&gcm);
	ike_sa_keys_wipe(&cbc);
}

static void test_sk_no_space(void **state)
{
	uint8_t out[64], inner[256], first;
	struct ike_sa_keys k;
	size_t len, inner_len;

	(void)state;
	make_keys(&sk_suites[0], &k);
	inner_len = build_inner(inner, sizeof(inner), &first);
	assert_int_equal(ike_sk_seal(&k, true, &auth_header, first, inner,
				     inner_len, out, sizeof(out), &len),
			 IKE_CRYPTO_E_NO_SPACE);
	ike_sa_keys_wipe(&k);
}

/* ---- DH to keys, both ends ------------------------------------------------------- */

static void test_sa_keys_from_dh_agree(void **state)
{
	const struct ike_suite s = sk_suites[1];	/* X25519, GCM-256 */
	uint8_t pub_i[32], pub_r[32], ni[32], nr[32];
	struct ike_sa_keys ki, kr;
	struct ike_dh *di, *dr;
	size_t li, lr;

	(void)state;
	assert_int_equal(ike_random(ni, 32), IKE_CRYPTO_OK);
	assert_int_equal(ike_random(nr, 32), IKE_CRYPTO_OK);
	assert_int_equal(ike_dh_new(s.dh, &di), IKE_CRYPTO_OK);
	assert_int_equal(ike_dh_new(s.dh, &dr), IKE_CRYPTO_OK);
	assert_int_equal(ike_dh_public(di, pub_i, 32, &li), IKE_CRYPTO_OK);
	assert_int_equal(ike_dh_public(dr, pub_r, 32, &lr), IKE_CRYPTO_OK);
	assert_int_equal(ike_sa_keys_from_dh(&ki, &s, di, pub_r, lr, ni, 32,
					     nr, 32, 1, 2), IKE_CRYPTO_OK);
	assert_int_equal(ike_sa_keys_from_dh(&kr, &s, dr, pub_i, li, ni, 32,
					     nr, 32, 1, 2), IKE_CRYPTO_OK);
	assert_memory_equal(&ki, &kr, sizeof(ki));
	assert_int_equal(ki.encr_len, 36);
	assert_int_equal(ki.integ_len, 0);
	ike_sa_keys_wipe(&ki);
	ike_sa_keys_wipe(&kr);
	ike_dh_free(di);
	ike_dh_free(dr);
}

/* ---- AUTH, NAT detection, algorithm policy ------------------------------------------ */

/* §2.15 PSK AUTH; expected value computed independently with Python's
 * hmac from the formula (no published vector exists). */
static void test_psk_auth(void **state)
{
	static const char psk[] = "correct horse battery staple";
	static const char message[] = "IKE_SA_INIT request as sent, stand-in bytes";
	const struct ike_id id = { IKEV2_ID_FQDN,
				   (const uint8_t *)"alice.example", 13 };
	uint8_t nonce[32], auth[IKE_PRF_MAX_LEN], octets[256];
	struct ike_auth_input in = {
		.initiator = true,
		.message = (const uint8_t *)message,
		.message_len = strlen(message),
		.peer_nonce = nonce,
		.peer_nonce_len = sizeof(nonce),
		.id = &id,
	};
	struct ike_sa_keys k;
	size_t i, len;

	(void)state;
	memset(&k, 0, sizeof(k));
	k.suite.prf = IKEV2_PRF_HMAC_SHA2_256;
	k.prf_len = 32;
	for (i = 0; i < 32; i++) {
		k.sk_pi[i] = (uint8_t)(i + 1);
		nonce[i] = (uint8_t)(0x40 + i);
	}
	assert_int_equal(ike_psk_auth(&k, (const uint8_t *)psk, strlen(psk),
				      &in, auth, &len), IKE_CRYPTO_OK);
	assert_hex(auth, len,
		   "9006a05b6417c351c0d7c30328bb277bf9d0a07f9e0186da7669ce96b33408df");
	assert_int_equal(ike_psk_auth_verify(&k, (const uint8_t *)psk,
					     strlen(psk), &in, auth, len),
			 IKE_CRYPTO_OK);
	assert_int_equal(ike_psk_auth_verify(&k, (const uint8_t *)psk,
					     strlen(psk) - 1, &in, auth, len),
			 IKE_CRYPTO_E_AUTH);
	assert_int_equal(ike_psk_auth_verify(&k, (const uint8_t *)psk,
					     strlen(psk), &in, auth, len - 1),
			 IKE_CRYPTO_E_AUTH);
	in.initiator = false;	/* SK_pr (all zero here) gives another value */
	assert_int_equal(ike_psk_auth_verify(&k, (const uint8_t *)psk,
					     strlen(psk), &in, auth, len),
			 IKE_CRYPTO_E_AUTH);

	/* the signed octets end with the same MACedID */
	in.initiator = true;
	assert_int_equal(ike_signed_octets(&k, &in, octets, sizeof(octets),
					   &len), IKE_CRYPTO_OK);
	assert_int_equal(len, strlen(message) + 32 + 32);
	assert_memory_equal(octets, message, strlen(message));
	assert_int_equal(ike_signed_octets(&k, &in, octets, len - 1, &len),
			 IKE_CRYPTO_E_NO_SPACE);
}

/* §2.23 NAT detection: SHA-1(SPIi | SPIr | IP | port); expected values
 * computed independently with Python's hashlib. */
static void test_nat_detection(void **state)
{
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	uint8_t v6[16], out[IKEV2_NAT_DETECTION_LEN];

	(void)state;
	unhex("20010db8000000000000000000000001", v6, sizeof(v6));
	assert_int_equal(ike_nat_detection_hash(0x0102030405060708ULL,
						0x1112131415161718ULL, v4, 4,
						4500, out), IKE_CRYPTO_OK);
	assert_hex(out, sizeof(out), "5184f43875ff7d9e3dfdc92bd1dee1a08204de3e");
	assert_int_equal(ike_nat_detection_hash(0x0102030405060708ULL, 0, v6,
						16, 500, out), IKE_CRYPTO_OK);
	assert_hex(out, sizeof(out), "7fa12a60a3a27ef1b3fed26cc6d5b8fbf553292f");
	assert_int_equal(ike_nat_detection_hash(1, 2, v6, 5, 500, out),
			 IKE_CRYPTO_E_ARGUMENT);
}

static void test_suite_policy(void **state)
{
	const struct ike_suite good_gcm = { IKEV2_ENCR_AES_GCM_16, 256,
		IKEV2_INTEG_NONE, IKEV2_PRF_HMAC_SHA2_256, IKEV2_DH_ECP_256 };
	struct ike_suite s;

	(void)state;
	assert_true(ike_suite_usable(&good_gcm, true));
	s = good_gcm;
	s.integ = IKEV2_INTEG_HMAC_SHA2_256_128;	/* AEAD plus integrity */
	assert_false(ike_suite_usable(&s, true));
	s = good_gcm;
	s.encr = IKEV2_ENCR_AES_CBC;			/* CBC without integrity */
	assert_false(ike_suite_usable(&s, true));
	s = good_gcm;
	s.encr = IKEV2_ENCR_3DES;
	assert_false(ike_suite_usable(&s, true));
	s = good_gcm;
	s.prf = IKEV2_PRF_HMAC_SHA1;
	assert_false(ike_suite_usable(&s, true));
	s = good_gcm;
	s.dh = IKEV2_DH_MODP_1024;
	assert_false(ike_suite_usable(&s, true));
	s = good_gcm;
	s.encr_key_bits = 64;
	assert_false(ike_suite_usable(&s, true));
	/* AH / ESP-NULL: integrity alone is a CHILD SA suite, not an IKE one */
	s = (struct ike_suite){ IKEV2_ENCR_NULL, 0,
				IKEV2_INTEG_HMAC_SHA2_256_128, 0, 0 };
	assert_true(ike_suite_usable(&s, false));
	assert_false(ike_suite_usable(&s, true));

	assert_string_equal(ike_transform_name(IKEV2_XFORM_ENCR,
					       IKEV2_ENCR_3DES), "ENCR_3DES");
	assert_string_equal(ike_transform_name(IKEV2_XFORM_DH,
					       IKEV2_DH_MODP_2048),
			    "DH_MODP_2048");
	assert_string_equal(ike_transform_name(IKEV2_XFORM_PRF, 99), "unknown");
	assert_string_equal(ike_crypto_strerror(IKE_CRYPTO_E_ICV),
			    "integrity check failed");
	assert_string_equal(ike_crypto_strerror(IKE_CRYPTO_E_COUNT),
			    "unknown crypto error");
}

static void test_ct_equal(void **state)
{
	(void)state;
	assert_true(ike_ct_equal("abcd", "abcd", 4));
	assert_false(ike_ct_equal("abcd", "abce", 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prf_rfc4231),
		cmocka_unit_test(test_prf_rfc4231_long_key),
		cmocka_unit_test(test_integ_rfc4868),
		cmocka_unit_test(test_kdf_cavp_skeyseed_and_dkm),
		cmocka_unit_test(test_kdf_cavp_rekey),
		cmocka_unit_test(test_kdf_cavp_key_split),
		cmocka_unit_test(test_prf_plus_limit),
		cmocka_unit_test(test_child_keys),
		cmocka_unit_test(test_aes_cbc_sp800_38a),
		cmocka_unit_test(test_aes_gcm_spec),
		cmocka_unit_test(test_dh_published),
		cmocka_unit_test(test_dh_rejects_bad_public),
		cmocka_unit_test(test_dh_modp2048),
		cmocka_unit_test(test_dh_one_pair_many_peers),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_dh_unsupported),
		cmocka_unit_test(test_sk_round_trip),
		cmocka_unit_test(test_sk_tamper),
		cmocka_unit_test(test_skf_fragments),
		cmocka_unit_test(test_sk_open_hand_built),
		cmocka_unit_test(test_sk_padding_bounds),
		cmocka_unit_test(test_sk_short_and_misaligned),
		cmocka_unit_test(test_sk_no_space),
		cmocka_unit_test(test_sa_keys_from_dh_agree),
		cmocka_unit_test(test_psk_auth),
		cmocka_unit_test(test_nat_detection),
		cmocka_unit_test(test_suite_policy),
		cmocka_unit_test(test_ct_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
