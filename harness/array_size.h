/*
 * array_size.h - ARRAY_SIZE(), as in the kernel's <linux/array_size.h>:
 * the number of elements of an array (not a pointer) known at compile time.
 */
#ifndef TB_ARRAY_SIZE_H
#define TB_ARRAY_SIZE_H

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
