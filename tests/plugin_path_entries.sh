#!/bin/sh
# A --plugin-path or DPTRAIN_PLUGIN_PATH entry is the file or folder it
# names, relative to the working directory: "mine.so" is opened from the
# current folder (dlopen alone would look it up in the system's library
# folders), and errors about an entry name it as resolved:
# "PATH (resolved as /ABS/PATH): ...".
. "${top_srcdir:?run me through make check}/tests/lib.sh"

here=$(pwd -P)
cp "$DPT_TEST_PLUGINS/fail_create.so" mine.so   # one layer, 'failing'

# 1. A file name without a slash is the file in the current folder.
check "--plugin-path mine.so loads ./mine.so" sh -c \
    '"$DPTRAIN" plugins --plugin-path mine.so | grep "failing.*mine.so"'
check "DPTRAIN_PLUGIN_PATH=mine.so loads ./mine.so" sh -c \
    'DPTRAIN_PLUGIN_PATH="mine.so:$DPTRAIN_PLUGIN_PATH" "$DPTRAIN" plugins | grep "failing.*mine.so"'
check "check-plugin mine.so checks ./mine.so" sh -c \
    '"$DPTRAIN" check-plugin mine.so | grep "layer failing"'

# 2. Errors name the entry as resolved: missing, and not a plugin.
expect_error "dptrain: error: --plugin-path entry none.so (resolved as $here/none.so): No such file or directory" \
    dptrain plugins --plugin-path none.so
expect_error "DPTRAIN_PLUGIN_PATH entry x/../none (resolved as $here/none): No such file or directory" \
    env DPTRAIN_PLUGIN_PATH=x/../none "$DPTRAIN" plugins
echo "not a plugin" > junk.so
expect_error "plugin junk.so (resolved as $here/junk.so): cannot load" \
    dptrain plugins --plugin-path junk.so

# 3. An absolute entry is shown as it is.
expect_error "dptrain: error: --plugin-path entry /nonexistent/p.so: No such file or directory" \
    dptrain plugins --plugin-path /nonexistent/p.so

summary
