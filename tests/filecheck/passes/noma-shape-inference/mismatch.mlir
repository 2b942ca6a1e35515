// RUN: not nomac %s -p noma-shape-inference 2>&1 | filecheck %s

// Once both shapes are known statically, a broadcast mismatch is reported at
// compile time at the op.

builtin.module {
  func.func @main() {
    %a = noma.tensor.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf64>
    %b = noma.tensor.constant dense<[1.0, 2.0]> : tensor<2xf64>
    %x = noma.tensor.neg %a : tensor<3xf64> -> tensor<?xf64>
    %y = noma.tensor.add %x, %b : (tensor<?xf64>, tensor<2xf64>) -> tensor<?xf64> loc("prog.noma":4:13)
    noma.io.print %y : tensor<?xf64>
    func.return
  }
}

// CHECK: error: shapes [3] and [2] cannot be broadcast at prog.noma:4:13
