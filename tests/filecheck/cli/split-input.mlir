// RUN: nomac %s --split-input-file -p cse | filecheck %s

// Each chunk is its own module; the outputs are joined with `// -----`.

func.func @first() {
  func.return
}

// -----

func.func @second(%a: f64) -> f64 {
  %0 = arith.addf %a, %a : f64
  %1 = arith.addf %a, %a : f64
  %2 = arith.mulf %0, %1 : f64
  func.return %2 : f64
}

// CHECK:      builtin.module {
// CHECK-NEXT:   func.func @first() {
// CHECK:      // -----
// CHECK-NEXT: builtin.module {
// CHECK-NEXT:   func.func @second
// CHECK-NEXT:     %0 = arith.addf %a, %a : f64
// CHECK-NEXT:     %1 = arith.mulf %0, %0 : f64
// CHECK-NOT:  // -----
