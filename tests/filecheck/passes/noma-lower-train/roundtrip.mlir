// RUN: nomac %s | filecheck %s
// RUN: nomac %s --print-op-generic | nomac | filecheck %s

// The ops noma-lower-train introduces print and parse.

builtin.module {
  func.func @main() {
    %l = arith.constant 1.0 : f64
    %k = arith.constant 3.0 : f64
    noma.train.check_objective %l, %k
    noma.train.warn_max_iterations %k
    noma.train.end_loop
    func.return
  }
}

// CHECK:      noma.train.check_objective %l, %k
// CHECK-NEXT: noma.train.warn_max_iterations %k
// CHECK-NEXT: noma.train.end_loop
