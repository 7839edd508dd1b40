/* The layer of leaky_layer.h without a mistake: check-plugin passes it. */
#define BROKEN_NAME "leaky_ok"
#include "leaky_layer.h"
