// RUN: nomac %s -p noma-to-llvm | filecheck %s

// The entry becomes `void @noma_entry()`; other functions reachable from it
// get a `noma.fn.` prefix (no clash with C symbols such as `exp`), unused
// ones are dropped; a tensor a call returns is copied into the call's slot
// (the callee's slots change at its next call).

builtin.module attributes {noma.entry = "start"} {
  func.func @exp(%x: tensor<?xf64>) -> tensor<?xf64> {
    %y = noma.tensor.exp %x : tensor<?xf64> -> tensor<?xf64>
    func.return %y : tensor<?xf64>
  }
  func.func @unused() {
    func.return
  }
  func.func @start() {
    %c = noma.tensor.constant dense<[1.0]> : tensor<1xf64>
    %x = noma.tensor.cast %c : tensor<1xf64> -> tensor<?xf64>
    %a = func.call @exp(%x) : (tensor<?xf64>) -> tensor<?xf64>
    %b = func.call @exp(%a) : (tensor<?xf64>) -> tensor<?xf64>
    noma.io.print %a : tensor<?xf64>
    func.return
  }
}

// CHECK-NOT:  @unused
// CHECK:      llvm.func internal @noma.fn.exp(%x: !llvm.ptr) -> !llvm.ptr {
// CHECK:        %y = llvm.call @noma_rt_unary(%{{.*}}, %{{.*}}, %x)
// CHECK-NEXT:   llvm.return %y : !llvm.ptr
// CHECK:      llvm.func @noma_entry() {
// CHECK:        %[[A:.*]] = llvm.call @noma.fn.exp(%c) : (!llvm.ptr) -> !llvm.ptr
// CHECK-NEXT:   %[[SLOT:.*]] = llvm.getelementptr %{{.*}}[1]
// CHECK-NEXT:   %a = llvm.call @noma_rt_buf_load(%[[SLOT]], %[[A]], %{{.*}})
// CHECK-NEXT:   %[[B:.*]] = llvm.call @noma.fn.exp(%a) : (!llvm.ptr) -> !llvm.ptr
// CHECK-NEXT:   %[[SLOT2:.*]] = llvm.getelementptr %{{.*}}[2]
// CHECK-NEXT:   %b = llvm.call @noma_rt_buf_load(%[[SLOT2]], %[[B]], %{{.*}})
// CHECK:        llvm.call @noma_rt_print_tensor(%a)
