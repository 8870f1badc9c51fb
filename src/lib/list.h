/* SPDX-License-Identifier: MIT */
/*
 * list: an intrusive circular doubly linked list, as in the Linux kernel or
 * libuv's queue.h. Embed a `struct list` in the element and get back to the
 * element with container_of(). A list head is a `struct list` linked to
 * itself. Removing an element that is not linked is a no-op.
 */
#ifndef HERMOD_LIST_H
#define HERMOD_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list {
    struct list *prev, *next;
};

static inline void list_init(struct list *l)
{
    l->prev = l->next = l;
}
static inline bool list_empty(const struct list *l)
{
    return l->next == l;
}
/* Is the element linked into some list? (Elements must be list_init'ed.) */
static inline bool list_linked(const struct list *l)
{
    return l->next != l;
}
static inline void list_add_tail(struct list *head, struct list *e)
{
    e->prev = head->prev;
    e->next = head;
    head->prev->next = e;
    head->prev = e;
}
static inline void list_add_head(struct list *head, struct list *e)
{
    e->next = head->next;
    e->prev = head;
    head->next->prev = e;
    head->next = e;
}
static inline void list_del(struct list *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    list_init(e);
}
static inline struct list *list_first(const struct list *head)
{
    return list_empty(head) ? NULL : head->next;
}
static inline size_t list_count(const struct list *head)
{
    size_t n = 0;
    for (const struct list *p = head->next; p != head; p = p->next)
        n++;
    return n;
}

/* Moves every element of `from` to the (empty) list `to`; `from` is left
 * empty. */
static inline void list_move_all(struct list *from, struct list *to)
{
    list_init(to);
    if (list_empty(from))
        return;
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    list_init(from);
}

#define list_for_each(pos, head) for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)
/* Safe against removal of `pos` inside the loop. */
#define list_for_each_safe(pos, tmp, head)                                     \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);           \
         (pos) = (tmp), (tmp) = (pos)->next)

#endif
