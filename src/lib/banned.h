/* SPDX-License-Identifier: MIT */
/*
 * banned.h: functions that are too easy to misuse. Every file includes this
 * (through xalloc.h), so a call to one of them fails to compile. Use the
 * bounded or reentrant replacement named in the message.
 */
#ifndef HERMOD_BANNED_H
#define HERMOD_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)      /* use memcpy with a length, or buf */
#undef strcat
#define strcat(x, y) BANNED(strcat)      /* use buf_addstr */
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy) /* use snprintf or memcpy */
#undef sprintf
#define sprintf(...) BANNED(sprintf)     /* use snprintf or buf_addf */
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)      /* use strtok_r or a loop */
#undef atoi
#define atoi(x) BANNED(atoi)             /* use strtol with end checks */
#undef gmtime
#define gmtime(x) BANNED(gmtime)         /* use gmtime_r */
#undef localtime
#define localtime(x) BANNED(localtime)   /* use localtime_r */
#undef ctime
#define ctime(x) BANNED(ctime)
#undef asctime
#define asctime(x) BANNED(asctime)

#endif
