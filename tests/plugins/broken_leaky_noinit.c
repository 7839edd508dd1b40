/* Mistake: parameters without an init function (dptrain train refuses it). */
#define BROKEN_NAME "broken_leaky_noinit"
#define LEAKY_NO_INIT 1
#include "leaky_layer.h"
