// RUN: nomac %s -p noma-migrate-realloc-state,noma-migrate-realloc-state | filecheck %s

// `free` of a parameter frees its state too (just before it). Running the pass twice adds
// nothing the second time.

builtin.module {
  func.func @main() {
    %init = noma.tensor.constant dense<[1.0, 2.0]> : tensor<2xf64>
    %W = noma.train.param "w" %init : tensor<2xf64> -> !noma.mem.buffer<1>
    %W_m = noma.train.state %W "m" : !noma.mem.buffer<1> -> !noma.mem.buffer<1>
    %W_v = noma.train.state %W "v" : !noma.mem.buffer<1> -> !noma.mem.buffer<1>
    %W_t = noma.train.state %W "t" : !noma.mem.buffer<1> -> !noma.mem.buffer<1>
    %four = arith.constant 4.0 : f64
    noma.mem.realloc %W to [%four] init "zeros" () : !noma.mem.buffer<1>
    noma.mem.free %W : !noma.mem.buffer<1>
    func.return
  }
}

// CHECK:      noma.mem.realloc %W to {{ ?}}[%four] init "zeros"
// CHECK-NEXT: noma.mem.realloc %W_m to {{ ?}}[%four] init "zeros"
// CHECK-NEXT: noma.mem.realloc %W_v to {{ ?}}[%four] init "zeros"
// CHECK-NEXT: noma.mem.realloc %W_t to {{ ?}}[%four] init "zeros"
// CHECK-NEXT: noma.mem.free %W_m : !noma.mem.buffer<1>
// CHECK-NEXT: noma.mem.free %W_v : !noma.mem.buffer<1>
// CHECK-NEXT: noma.mem.free %W_t : !noma.mem.buffer<1>
// CHECK-NEXT: noma.mem.free %W : !noma.mem.buffer<1>
// CHECK-NEXT: func.return
