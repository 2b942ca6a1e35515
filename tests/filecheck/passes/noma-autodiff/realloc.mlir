// RUN: nomac %s -p noma-autodiff | filecheck %s

// A realloc of the parameter inside the body, under an if (SPEC §7): the
// adjoint of every load of W (the one before the realloc has the old shape)
// is resized, zeros outside the preserved corner, to W's current dims, and
// the two are added.

builtin.module {
  func.func @main() {
    %zero = arith.constant 0.0 : f64
    %one = arith.constant 1.0 : f64
    %five = arith.constant 5.0 : f64
    %wi = noma.tensor.constant dense<[0.5, -0.3, 0.8]> : tensor<3xf64>
    %W = noma.train.param "w" %wi : tensor<3xf64> -> !noma.mem.buffer<1>
    noma.train.optimize params(%W : !noma.mem.buffer<1>) hyper(%one, %one, %zero, %zero, %zero, %zero, %one) {
      %old = noma.mem.load %W : !noma.mem.buffer<1> -> tensor<?xf64>
      %os = noma.tensor.sum %old : tensor<?xf64> -> f64
      %grow = arith.cmpf ogt, %os, %zero : f64
      scf.if %grow {
        noma.mem.realloc %W to [%five] init "zeros" () : !noma.mem.buffer<1>
      }
      %new = noma.mem.load %W : !noma.mem.buffer<1> -> tensor<?xf64>
      %ns = noma.tensor.sum %new : tensor<?xf64> -> f64
      %loss = noma.tensor.mul %os, %ns : (f64, f64) -> f64
      noma.train.minimize %loss : f64
      %stop = arith.cmpf olt, %loss, %zero : f64
      noma.train.yield %stop
    }
    func.return
  }
}

// CHECK:      scf.if %{{.*}} {
// CHECK:        %[[GN:.*]] = noma.tensor.broadcast_like %{{.*}}, %new
// CHECK-NEXT:   %[[D1:.*]] = noma.mem.dim %W {axis = 0 : i64} : !noma.mem.buffer<1>
// CHECK-NEXT:   %[[RN:.*]] = noma.tensor.resize %[[GN]] to[%[[D1]]] init "zeros"() : tensor<?xf64> -> tensor<?xf64>
// CHECK-NEXT:   %[[GO:.*]] = noma.tensor.broadcast_like %{{.*}}, %old
// CHECK-NEXT:   %[[D0:.*]] = noma.mem.dim %W {axis = 0 : i64} : !noma.mem.buffer<1>
// CHECK-NEXT:   %[[RO:.*]] = noma.tensor.resize %[[GO]] to[%[[D0]]] init "zeros"() : tensor<?xf64> -> tensor<?xf64>
// CHECK-NEXT:   %[[G:.*]] = noma.tensor.add %[[RN]], %[[RO]] : (tensor<?xf64>, tensor<?xf64>) -> tensor<?xf64>
// CHECK-NEXT:   noma.train.update %W, %[[G]] : !noma.mem.buffer<1>, tensor<?xf64>
