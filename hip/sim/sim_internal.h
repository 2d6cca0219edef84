/* sim backend: state shared by the sim_*.c files (not by the kernels). */
#ifndef FAULTLINE_SIM_INTERNAL_H
#define FAULTLINE_SIM_INTERNAL_H

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sim.h"

/* Sets the thread's current device (fl_get_last_error reports its sticky fault). */
SIM_HIDDEN void sim_set_current_device(int32_t dev);
/* What every export that takes a device does first: initializes the sim,
 * checks the ordinal (101) and, when `sticky` is set, the device's poison.
 * Sets the thread's last error on failure. */
SIM_HIDDEN int32_t sim_enter(int32_t dev, int sticky);
/* 700 when device `dev` is poisoned, else 0. */
SIM_HIDDEN int32_t sim_device_sticky(int32_t dev);

#endif
