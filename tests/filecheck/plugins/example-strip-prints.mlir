// The worked example of docs/writing-a-pass.md: an out-of-tree pass and
// dialect (tests/plugins/noma_example_plugin.py) loaded into nomac.
//
// RUN: nomac %s --load-plugin %S/../../plugins/noma_example_plugin.py -p example-strip-prints | filecheck %s
// RUN: nomac %s --load-plugin %S/../../plugins/noma_example_plugin.py -p 'example-strip-prints{notes=true}' | filecheck %s --check-prefix=NOTES
// RUN: env PYTHONPATH=%S/../../plugins nomac %s --load-plugin noma_example_plugin -p 'noma-inline,example-strip-prints' | filecheck %s --check-prefix=INLINE
// RUN: nomac %s --load-plugin %S/../../plugins/noma_example_plugin.py -p 'example-strip-prints{notes=true}' --print-op-generic | nomac - --load-plugin %S/../../plugins/noma_example_plugin.py | filecheck %s --check-prefix=NOTES
// RUN: nomac --load-plugin %S/../../plugins/noma_example_plugin.py --list-passes | filecheck %s --check-prefix=LIST
// RUN: not nomac %s -p example-strip-prints 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not nomac %s --load-plugin %S/../../plugins/noma_example_plugin.py -p 'example-strip-prints{colour=red}' 2>&1 | filecheck %s --check-prefix=BADOPT

builtin.module attributes {noma.entry = "main"} {
  func.func @show(%x: f64) -> f64 {
    noma.io.print %x : f64
    func.return %x : f64
  }
  func.func @main() -> f64 {
    noma.io.print_str "training"
    %0 = arith.constant 2.000000e+00 : f64
    %1 = noma.tensor.mul %0, %0 : (f64, f64) -> f64
    noma.io.print %1 : f64
    %2 = func.call @show(%1) : (f64) -> f64
    func.return %2 : f64
  }
}

// CHECK:      func.func @show(%x: f64) -> f64 {
// CHECK-NEXT:   func.return %x : f64
// CHECK:      func.func @main() -> f64 {
// CHECK-NEXT:   %0 = arith.constant 2.000000e+00 : f64
// CHECK-NEXT:   %1 = noma.tensor.mul %0, %0 : (f64, f64) -> f64
// CHECK-NEXT:   %2 = func.call @show(%1) : (f64) -> f64
// CHECK-NOT:  noma.io.print

// NOTES:      func.func @main() -> f64 {
// NOTES-NEXT:   example.note "training"
// NOTES-NEXT:   %0 = arith.constant
// NOTES-NOT:  noma.io.print

// After inlining, @show's print is in @main and goes too.
// INLINE:      func.func @main() -> f64 {
// INLINE-NOT:  noma.io.print
// INLINE:      func.return

// LIST:      Plugin passes:
// LIST-NEXT:   example-strip-prints  Remove every print; with notes=true keep printed strings as example.note.

// UNKNOWN: error: unknown pass 'example-strip-prints'

// BADOPT: error: bad options for pass 'example-strip-prints'
