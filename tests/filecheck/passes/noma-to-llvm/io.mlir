// RUN: nomac %s -p noma-to-llvm | filecheck %s

// Strings and paths are NUL-terminated constant globals (shared by content);
// save_safetensors passes arrays of key and value pointers.

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
// CHECK:      llvm.func @noma_entry() {
// CHECK-NEXT:   %[[P:.*]] = llvm.mlir.addressof @[[HELLO]]
// CHECK-NEXT:   llvm.call @noma_rt_print_str(%[[P]]) : (!llvm.ptr) -> ()
// CHECK:        %[[PATH:.*]] = llvm.mlir.addressof @[[CSV]]
// CHECK:        %t = llvm.call @noma_rt_load_csv(%{{.*}}, %[[PATH]], %{{.*}})
// CHECK:        llvm.call @noma_rt_save_csv(%t, %{{.*}}, %{{.*}})
// CHECK:        %[[PATH2:.*]] = llvm.mlir.addressof @[[CSV]]
// CHECK-NEXT:   %[[NULL:.*]] = llvm.mlir.zero
// CHECK-NEXT:   %a = llvm.call @noma_rt_load_safetensors(%[[PATH2]], %[[NULL]])
// CHECK:        %g = llvm.call @noma_rt_archive_get(%{{.*}}, %a, %{{.*}}, %{{.*}})
// CHECK:        %[[NOKEY:.*]] = llvm.mlir.zero : !llvm.ptr
// CHECK:        %h = llvm.call @noma_rt_archive_get(%{{.*}}, %a, %[[NOKEY]], %{{.*}})
// CHECK:        %[[BOX:.*]] = llvm.call @noma_rt_box(%{{.*}}, %x)
// CHECK:        %[[KEYS:.*]] = llvm.mlir.addressof @{{noma\.scratch\.[0-9]+}}
// CHECK:        %[[VALUES:.*]] = llvm.mlir.addressof @{{noma\.scratch\.[0-9]+}}
// CHECK:        llvm.call @noma_rt_save_safetensors(%{{.*}}, %[[KEYS]], %[[VALUES]], %{{.*}}, %{{.*}}) : (i64, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
// CHECK-NEXT:   llvm.call @noma_rt_print_tensor(%h)
