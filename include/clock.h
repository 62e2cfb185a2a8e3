/*
 * clock: microsecond readings of the monotonic clock and of the calling
 * thread's CPU time, for latencies, time budgets and the watchdog.
 */
#ifndef MODGATE_CLOCK_H
#define MODGATE_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in microseconds. */
uint64_t	 clock_mono_us(void);

/* CPU time of the calling thread in microseconds; 0 if unavailable. */
uint64_t	 clock_thread_cpu_us(void);

#endif
