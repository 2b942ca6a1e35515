// RUN: nomac %s -p noma-shape-inference | filecheck %s

// Loads of buffers stay dynamic. A refined value that flows into scf.yield,
// func.return or noma.train.yield keeps its original type there through a
// noma.tensor.cast; NOMA ops use the refined value directly. Zeros with
// constant dims become static; a non-constant or invalid dim stays `?`.

builtin.module {
  func.func @main() -> tensor<?xf64> {
    %init = noma.tensor.constant dense<[1.0, 2.0]> : tensor<2xf64>
    %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
    %w = noma.mem.load %W : !noma.mem.buffer<1> -> tensor<?xf64>
    %two = arith.constant 2.0 : f64
    %zero = arith.constant 0.0 : f64
    %n = noma.mem.dim %W {axis = 0 : i64} : !noma.mem.buffer<1>
    %z = noma.tensor.zeros [%two, %n] : tensor<?x?xf64>
    %z2 = noma.tensor.zeros [%two] : tensor<?xf64>
    %bad = noma.tensor.zeros [%zero] : tensor<?xf64>
    %d = noma.tensor.add %init, %z2 : (tensor<2xf64>, tensor<?xf64>) -> tensor<?xf64>
    %c = arith.cmpf ogt, %two, %zero : f64
    %r = scf.if %c -> (tensor<?xf64>) {
      scf.yield %d : tensor<?xf64>
    } else {
      scf.yield %w : tensor<?xf64>
    }
    noma.io.print %z : tensor<?x?xf64>
    noma.io.print %bad : tensor<?xf64>
    func.return %d : tensor<?xf64>
  }
}

// CHECK:      %w = noma.mem.load %W : !noma.mem.buffer<1> -> tensor<?xf64>
// CHECK:      %z = noma.tensor.zeros{{ ?}}[%two, %n] : tensor<2x?xf64>
// CHECK-NEXT: %z2 = noma.tensor.zeros{{ ?}}[%two] : tensor<2xf64>
// CHECK-NEXT: %bad = noma.tensor.zeros{{ ?}}[%zero] : tensor<?xf64>
// CHECK-NEXT: %d = noma.tensor.add %init, %z2 : (tensor<2xf64>, tensor<2xf64>) -> tensor<2xf64>
// CHECK-NEXT: %[[CAST:.*]] = noma.tensor.cast %d : tensor<2xf64> -> tensor<?xf64>
// CHECK:      %r = scf.if %c -> (tensor<?xf64>) {
// CHECK-NEXT:   scf.yield %[[CAST]] : tensor<?xf64>
// CHECK-NEXT: } else {
// CHECK-NEXT:   scf.yield %w : tensor<?xf64>
// CHECK:      noma.io.print %z : tensor<2x?xf64>
// CHECK:      func.return %[[CAST]] : tensor<?xf64>
