// RUN: nomac %s --load-plugin %S/Inputs/cli_plugin.py -p test-plugin-mark | filecheck %s
// RUN: nomac --load-plugin %S/Inputs/cli_plugin.py --list-passes | filecheck %s --check-prefix=LIST
// RUN: not nomac %s 2>&1 | filecheck %s --check-prefix=NOPLUGIN
// RUN: not nomac %s --load-plugin no_such_plugin_module 2>&1 | filecheck %s --check-prefix=MISSING

// A plugin registers a pass and a dialect through noma.driver.

// CHECK: builtin.module attributes {test_plugin.marked} {
// CHECK-NEXT: test_plugin.noop
test_plugin.noop

// LIST: Plugin passes:
// LIST-NEXT: test-plugin-mark  Mark the module with the unit attribute `test_plugin.marked`.

// NOPLUGIN: error: Operation test_plugin.noop is not registered

// MISSING: error: cannot load plugin 'no_such_plugin_module': ModuleNotFoundError
