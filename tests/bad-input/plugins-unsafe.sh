# Cases of tests/bad_input_suite.sh: plugin files and folders that others
# could have written (src/plugin/trust.h). A plugin file or folder writable
# by its group or everyone is refused with exit 1, naming it and the mode;
# so is a plugin file that is not a regular file (a FIFO must not hang the
# open); --allow-unsafe-plugins loads it with a warning. tests/plugin_safety.sh
# checks the rest (owners, links, the working folder, the SHA-256 records).
pu_relu=${DPTRAIN_PLUGIN_PATH%%:*}/activation_relu.so
mkdir pu-file pu-folder pu-group
chmod 755 pu-file pu-group # whatever the umask
cp "$pu_relu" pu-file/relu.so
chmod 666 pu-file/relu.so
cp "$pu_relu" pu-folder/relu.so
chmod 777 pu-folder
cp "$pu_relu" pu-group/relu.so
chmod 664 pu-group/relu.so
mkfifo pu-fifo.so

refused plugins-world-writable-file 1 'plugin file pu-file/relu.so .*writable by its group and everyone \(mode 0666\)' \
    dptrain plugins --plugin-path pu-file/relu.so
refused plugins-world-writable-file-scanned 1 'plugin file pu-file/relu.so .*mode 0666' \
    dptrain plugins --plugin-path pu-file
refused plugins-world-writable-folder 1 'plugin folder pu-folder .*writable by its group and everyone \(mode 0777\)' \
    dptrain plugins --plugin-path pu-folder
refused plugins-group-writable-file-env 1 'plugin file pu-group/relu.so .*writable by its group \(mode 0664\)' \
    env DPTRAIN_PLUGIN_PATH="pu-group:$DPTRAIN_PLUGIN_PATH" "$DPTRAIN" plugins
refused plugins-unsafe-summary 1 'plugin folder pu-folder .*or pass --allow-unsafe-plugins' \
    dptrain summary "$top_srcdir/examples/breast_cancer.cfg" --plugin-path pu-folder
refused plugins-fifo 1 'plugin file pu-fifo.so .*not a regular file' \
    dptrain plugins --plugin-path pu-fifo.so
accepted plugins-unsafe-allowed dptrain plugins --plugin-path pu-file:pu-folder:pu-group --allow-unsafe-plugins
accepted plugins-empty-elements env DPTRAIN_PLUGIN_PATH="::$DPTRAIN_PLUGIN_PATH:" "$DPTRAIN" plugins
