// RUN: nomac %s -p noma-to-llvm | filecheck %s

// Strings and paths are NUL-terminated constant globals (shared by content);
// save_safetensors passes arrays of key and value pointers (slices of the
// int64 scratch array); a constant scalar is a constant rank-0 tensor.

builtin.module attributes {noma.entry = "main"} {
  func.func @main() {
    noma.io.print_str "hello"
    %t = noma.io.load_csv "data.csv" : tensor<?x?xf64>
    noma.io.save_csv %t, "out.csv" : tensor<?x?xf64>
    %a = noma.io.load_safetensors "data.csv"
    %g = noma.io.get %a key "w" : tensor<*xf64>
    %h = noma.io.get %a : tensor<*xf64>
    %x = arith.constant 2.0 : f64
    noma.io.save_safetensors ["a", "b"] (%g, %x : tensor<*xf64>, f64), "out.safetensors"
    noma.io.print %h : tensor<*xf64>
    func.return
  }
}

// CHECK-DAG:  llvm.mlir.global internal constant @[[HELLO:noma\.str\.[0-9]+]]("hello\00")
// CHECK-DAG:  llvm.mlir.global internal constant @[[CSV:noma\.str\.[0-9]+]]("data.csv\00")
// CHECK-DAG:  llvm.mlir.global internal constant @[[KEY_A:noma\.str\.[0-9]+]]("a\00")
// CHECK:      llvm.func @noma_entry() {
// CHECK-DAG:    %[[P:.*]] = llvm.mlir.addressof @[[HELLO]]
// CHECK-DAG:    %[[PATH:.*]] = llvm.mlir.addressof @[[CSV]]
// CHECK-DAG:    %[[NULL:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK-DAG:    %[[A:.*]] = llvm.mlir.addressof @[[KEY_A]]
// CHECK-DAG:    %[[BOXED:.*]] = llvm.mlir.addressof @{{noma\.const\.[0-9]+}}
// CHECK-DAG:    %[[PTRS:.*]] = llvm.mlir.addressof @noma.scratch.i64
// CHECK:        llvm.call @noma_rt_print_str(%[[P]]) : (!llvm.ptr) -> ()
// CHECK:        %t = llvm.call @noma_rt_load_csv(%{{.*}}, %[[PATH]], %[[NULL]])
// CHECK-NEXT:   llvm.call @noma_rt_save_csv(%t, %{{.*}}, %[[NULL]])
// CHECK-NEXT:   %a = llvm.call @noma_rt_load_safetensors(%[[PATH]], %[[NULL]])
// CHECK:        %g = llvm.call @noma_rt_archive_get(%{{.*}}, %a, %{{.*}}, %[[NULL]])
// CHECK:        %h = llvm.call @noma_rt_archive_get(%{{.*}}, %a, %[[NULL]], %[[NULL]])
// CHECK-NEXT:   %[[KA:.*]] = llvm.ptrtoint %[[A]] : !llvm.ptr to i64
// CHECK-NEXT:   %[[KB:.*]] = llvm.ptrtoint %{{.*}} : !llvm.ptr to i64
// CHECK-NEXT:   %[[KEYS:.*]] = llvm.getelementptr %[[PTRS]][0] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK-NEXT:   llvm.store %[[KA]], %[[KEYS]] : i64, !llvm.ptr
// CHECK-NEXT:   %[[K1:.*]] = llvm.getelementptr %[[PTRS]][1] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK-NEXT:   llvm.store %[[KB]], %[[K1]] : i64, !llvm.ptr
// CHECK-NEXT:   %[[VG:.*]] = llvm.ptrtoint %g : !llvm.ptr to i64
// CHECK-NEXT:   %[[VX:.*]] = llvm.ptrtoint %[[BOXED]] : !llvm.ptr to i64
// CHECK-NEXT:   %[[VALUES:.*]] = llvm.getelementptr %[[PTRS]][2] : (!llvm.ptr) -> !llvm.ptr, i64
// CHECK:        llvm.call @noma_rt_save_safetensors(%{{.*}}, %[[KEYS]], %[[VALUES]], %{{.*}}, %[[NULL]]) : (i64, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
// CHECK-NEXT:   llvm.call @noma_rt_print_tensor(%h)
