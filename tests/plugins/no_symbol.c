/* Test plugin: a shared object without the dpt_plugins entry point. */
#include <dptrain/plugin.h>

DPT_PLUGIN_EXPORT int not_a_plugin(void);
DPT_PLUGIN_EXPORT int not_a_plugin(void)
{
    return 42;
}
