// RUN: nomac %s -p noma-inline | filecheck %s

// Calls inside scf.if and inside an optimize body are inlined in place; a
// function without results and an unused function disappear; the entry
// function is found without the `noma.entry` attribute (it is `main`).

builtin.module {
  func.func @unused() {
    func.return
  }
  func.func @show(%x: tensor<?xf64>) {
    noma.io.print %x : tensor<?xf64>
    func.return
  }
  func.func @loss(%w: tensor<?xf64>) -> f64 {
    %s = noma.tensor.mul %w, %w : (tensor<?xf64>, tensor<?xf64>) -> tensor<?xf64>
    %l = noma.tensor.sum %s : tensor<?xf64> -> f64
    func.return %l : f64
  }
  func.func @main() {
    %init = noma.tensor.constant dense<[1.0, 2.0]> : tensor<2xf64>
    %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
    %kind = arith.constant 1.0 : f64
    %lr = arith.constant 0.1 : f64
    %b1 = arith.constant 0.9 : f64
    %b2 = arith.constant 0.999 : f64
    %eps = arith.constant 1.0e-08 : f64
    %max = arith.constant 100.0 : f64
    %zero = arith.constant 0.0 : f64
    noma.train.optimize params(%W : !noma.mem.buffer<1>) hyper(%kind, %lr, %b1, %b2, %b1, %eps, %max) {
      %w = noma.mem.load %W : !noma.mem.buffer<1> -> tensor<?xf64>
      %l = func.call @loss(%w) : (tensor<?xf64>) -> f64
      noma.train.minimize %l : f64
      %stop = arith.cmpf olt, %l, %zero : f64
      noma.train.yield %stop
    }
    %w = noma.mem.load %W : !noma.mem.buffer<1> -> tensor<?xf64>
    %big = arith.cmpf ogt, %kind, %zero : f64
    scf.if %big {
      func.call @show(%w) : (tensor<?xf64>) -> ()
      scf.yield
    }
    func.return
  }
}

// CHECK:       builtin.module {
// CHECK-NEXT:    func.func @main() {
// CHECK:           noma.train.optimize
// CHECK-NEXT:        %w = noma.mem.load %W
// CHECK-NEXT:        %s = noma.tensor.mul %w, %w
// CHECK-NEXT:        %l = noma.tensor.sum %s
// CHECK-NEXT:        noma.train.minimize %l : f64
// CHECK:           scf.if %big {
// CHECK-NEXT:        noma.io.print %w_1 : tensor<?xf64>
// CHECK-NEXT:      }
// CHECK-NEXT:      func.return
// CHECK-NEXT:    }
// CHECK-NEXT:  }
// CHECK-NOT:   func.call
