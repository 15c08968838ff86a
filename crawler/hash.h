/*
 * hash.h - hashing, a set of 64-bit hashes, and an intrusive hash table.
 *
 * The seen set stores 8 bytes per URL (a 64-bit hash of the normalized URL)
 * instead of a copy of the string; at a billion URLs the chance of any false
 * "seen" stays below 3%, at ten million below one in 300,000.
 */
#ifndef CR_HASH_H
#define CR_HASH_H

#include <stddef.h>
#include <stdint.h>

/* A 64-bit hash of p[0..n): FNV-1a with a final avalanche mix. */
uint64_t cr_hash64(const void *p, size_t n);

/* A set of 64-bit values (open addressing, linear probing). */
struct cr_hset {
  uint64_t *slots; /* 0 marks an empty slot; the value 0 is stored as 1 */
  size_t cap;      /* power of two */
  size_t len;
};

void cr_hset_init(struct cr_hset *s);
void cr_hset_cleanup(struct cr_hset *s);
/* Adds h.  Returns 1 if added, 0 if it was present, CR_ENOMEM. */
int cr_hset_add(struct cr_hset *s, uint64_t h);
/* Returns 1 if h is present. */
int cr_hset_has(const struct cr_hset *s, uint64_t h);

/* A map from 64-bit values to 16 bits (open addressing, linear probing):
 * the seen set with each URL's depth, 10 bytes per slot. */
struct cr_htag {
  uint64_t *slots;   /* 0 marks an empty slot; the value 0 is stored as 1 */
  uint16_t *tags;    /* beside slots, same index */
  size_t cap;        /* power of two */
  size_t len;
};

void cr_htag_init(struct cr_htag *s);
void cr_htag_cleanup(struct cr_htag *s);
/* Adds h with tag.  Returns 1 if added, 0 if it was present (its tag is
 * left alone), CR_ENOMEM. */
int cr_htag_add(struct cr_htag *s, uint64_t h, uint16_t tag);
/* The tag of h, or NULL when h is absent; valid until the next add. */
uint16_t *cr_htag_get(const struct cr_htag *s, uint64_t h);

/* An intrusive chained hash table keyed by string.  Objects embed a
 * struct cr_hnode and give the table their key. */
struct cr_hnode {
  struct cr_hnode *next;
  uint64_t hash;
  const char *key;   /* NUL-terminated, owned by the object */
};

struct cr_hmap {
  struct cr_hnode **b;
  size_t nb;         /* power of two */
  size_t len;
};

void cr_hmap_init(struct cr_hmap *m);
/* Frees the bucket array only; the objects are the caller's. */
void cr_hmap_cleanup(struct cr_hmap *m);
/* Calls free_node on every object (which may free it), then cleans up. */
void cr_hmap_drain(struct cr_hmap *m, void (*free_node)(struct cr_hnode *n));
/* Finds the node with this key, or NULL. */
struct cr_hnode *cr_hmap_get(const struct cr_hmap *m, const char *key);
/* Inserts n (whose key must be set and absent).  Returns 0 or CR_ENOMEM. */
int cr_hmap_put(struct cr_hmap *m, struct cr_hnode *n);
/* As cr_hmap_put, for a caller that has cr_hash64 of the key already. */
int cr_hmap_put_hashed(struct cr_hmap *m, struct cr_hnode *n, uint64_t hash);
/* Removes n, which must be in the table. */
void cr_hmap_del(struct cr_hmap *m, struct cr_hnode *n);

#endif
