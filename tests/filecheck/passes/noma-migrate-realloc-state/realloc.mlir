// RUN: nomac %s -p noma-migrate-realloc-state | filecheck %s

// Reallocs of a parameter, between loops and under an scf.if inside an
// optimize body, bring m, v and t along with the same dims and `init "zeros"`.
// A buffer without state (a plain alloc) is left alone.

builtin.module {
  func.func @main() {
    %init = noma.tensor.constant dense<[[0.1], [0.2]]> : tensor<2x1xf64>
    %W = noma.train.param "W" %init : tensor<2x1xf64> -> !noma.mem.buffer<2>
    %W_m = noma.train.state %W "m" : !noma.mem.buffer<2> -> !noma.mem.buffer<2>
    %W_v = noma.train.state %W "v" : !noma.mem.buffer<2> -> !noma.mem.buffer<2>
    %W_t = noma.train.state %W "t" : !noma.mem.buffer<2> -> !noma.mem.buffer<2>
    %one = arith.constant 1.0 : f64
    %two = arith.constant 2.0 : f64
    %three = arith.constant 3.0 : f64
    %s = arith.constant 0.3 : f64
    %zero = arith.constant 0.0 : f64
    %A = noma.mem.alloc [%two] : !noma.mem.buffer<1>
    noma.mem.realloc %A to [%three] init "zeros" () : !noma.mem.buffer<1>
    noma.mem.realloc %W to [%three, %one] init "normal" (%zero, %s) : !noma.mem.buffer<2>
    noma.train.optimize params(%W : !noma.mem.buffer<2>) hyper(%two, %s, %s, %s, %s, %s, %three) {
      %w = noma.mem.load %W : !noma.mem.buffer<2> -> tensor<?x?xf64>
      %l = noma.tensor.sum %w : tensor<?x?xf64> -> f64
      %big = arith.cmpf ogt, %l, %one : f64
      scf.if %big {
        noma.mem.realloc %W to [%three, %two] init "zeros" () : !noma.mem.buffer<2>
      }
      noma.train.minimize %l : f64
      %stop = arith.cmpf olt, %l, %zero : f64
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK:      noma.mem.realloc %A to {{ ?}}[%three] init "zeros" {{ ?}}() : !noma.mem.buffer<1>
// CHECK-NEXT: noma.mem.realloc %W to {{ ?}}[%three, %one] init "normal" {{ ?}}(%zero, %s) : !noma.mem.buffer<2>
// CHECK-NEXT: noma.mem.realloc %W_m to {{ ?}}[%three, %one] init "zeros" {{ ?}}() : !noma.mem.buffer<2>
// CHECK-NEXT: noma.mem.realloc %W_v to {{ ?}}[%three, %one] init "zeros" {{ ?}}() : !noma.mem.buffer<2>
// CHECK-NEXT: noma.mem.realloc %W_t to {{ ?}}[%three, %one] init "zeros" {{ ?}}() : !noma.mem.buffer<2>
// CHECK-NEXT: noma.train.optimize
// CHECK:      scf.if %big {
// CHECK-NEXT:   noma.mem.realloc %W to {{ ?}}[%three, %two] init "zeros"
// CHECK-NEXT:   noma.mem.realloc %W_m to {{ ?}}[%three, %two] init "zeros"
// CHECK-NEXT:   noma.mem.realloc %W_v to {{ ?}}[%three, %two] init "zeros"
// CHECK-NEXT:   noma.mem.realloc %W_t to {{ ?}}[%three, %two] init "zeros"
// CHECK-NEXT: }
