;; The browser decoder's convolution kernel in WebAssembly with 128-bit SIMD (decoder.js runs it when
;; the browser validates the module, else its JavaScript kernel). Build: node ui/components/build_wasm.mjs
;; (wabt's wat2wasm, fetched with npm), which writes the module into decoder.js as base64.
;;
;; conv(x, y, wt, b, rs, rp, cs, cp, hout, wout, w, cin, cout, k): channels-last float32 images.
;; For each output pixel (oy, ox) and each block of four output channels: start from the bias, then for
;; every (input row iy, kernel row ky) in rows[oy] and (input column ix, kernel column kx) in cols[ox]
;; and every input channel ci, add x[iy, ix, ci] * wt[ky, kx, ci, co..co+3] (one splat times one
;; vector). rows/cols: start offsets (int32, n+1) and (input index, kernel index) pairs (int32 x 2),
;; as decoder.js's taps() lists them; cout is a multiple of 4 (the caller pads). All pointers are byte
;; offsets into the exported memory.
(module
  (memory (export "mem") 1)
  (func (export "conv")
    (param $x i32) (param $y i32) (param $wt i32) (param $b i32)
    (param $rs i32) (param $rp i32) (param $cs i32) (param $cp i32)
    (param $hout i32) (param $wout i32) (param $w i32) (param $cin i32) (param $cout i32) (param $k i32)
    (local $oy i32) (local $ox i32) (local $co i32) (local $r i32) (local $r1 i32) (local $c i32) (local $c1 i32)
    (local $iy i32) (local $ky i32) (local $xb i32) (local $wb i32) (local $ci i32) (local $ybase i32)
    (local $wstride i32) (local $acc v128) (local $acc2 v128) (local $wide i32)
    (local.set $wstride (i32.shl (local.get $cout) (i32.const 2)))
    (local.set $wide (i32.eqz (i32.and (local.get $cout) (i32.const 7))))  ;; eight channels per pass when they divide
    (loop $loop_oy
      (local.set $ox (i32.const 0))
      (loop $loop_ox
        (local.set $ybase (i32.add (local.get $y)
          (i32.shl (i32.mul (i32.add (i32.mul (local.get $oy) (local.get $wout)) (local.get $ox)) (local.get $cout)) (i32.const 2))))
        (local.set $co (i32.const 0))
        (loop $loop_co
          (local.set $acc (v128.load (i32.add (local.get $b) (i32.shl (local.get $co) (i32.const 2)))))
          (local.set $acc2 (v128.load offset=16 (i32.add (local.get $b) (i32.shl (local.get $co) (i32.const 2)))))
          (local.set $r (i32.load (i32.add (local.get $rs) (i32.shl (local.get $oy) (i32.const 2)))))
          (local.set $r1 (i32.load offset=4 (i32.add (local.get $rs) (i32.shl (local.get $oy) (i32.const 2)))))
          (block $done_r (loop $loop_r
            (br_if $done_r (i32.ge_s (local.get $r) (local.get $r1)))
            (local.set $iy (i32.load (i32.add (local.get $rp) (i32.shl (local.get $r) (i32.const 3)))))
            (local.set $ky (i32.load offset=4 (i32.add (local.get $rp) (i32.shl (local.get $r) (i32.const 3)))))
            (local.set $c (i32.load (i32.add (local.get $cs) (i32.shl (local.get $ox) (i32.const 2)))))
            (local.set $c1 (i32.load offset=4 (i32.add (local.get $cs) (i32.shl (local.get $ox) (i32.const 2)))))
            (block $done_c (loop $loop_c
              (br_if $done_c (i32.ge_s (local.get $c) (local.get $c1)))
              ;; xb = x + ((iy * w + ix) * cin) * 4; wb = wt + (((ky * k + kx) * cin) * cout + co) * 4
              (local.set $xb (i32.add (local.get $x) (i32.shl (i32.mul
                (i32.add (i32.mul (local.get $iy) (local.get $w)) (i32.load (i32.add (local.get $cp) (i32.shl (local.get $c) (i32.const 3)))))
                (local.get $cin)) (i32.const 2))))
              (local.set $wb (i32.add (local.get $wt) (i32.shl (i32.add (i32.mul (i32.mul
                (i32.add (i32.mul (local.get $ky) (local.get $k)) (i32.load offset=4 (i32.add (local.get $cp) (i32.shl (local.get $c) (i32.const 3)))))
                (local.get $cin)) (local.get $cout)) (local.get $co)) (i32.const 2))))
              (local.set $ci (local.get $cin))
              (if (local.get $wide)
                (then
                  (loop $loop_ci8
                    (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (v128.load32_splat (local.get $xb)) (v128.load (local.get $wb)))))
                    (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (v128.load32_splat (local.get $xb)) (v128.load offset=16 (local.get $wb)))))
                    (local.set $xb (i32.add (local.get $xb) (i32.const 4)))
                    (local.set $wb (i32.add (local.get $wb) (local.get $wstride)))
                    (local.set $ci (i32.sub (local.get $ci) (i32.const 1)))
                    (br_if $loop_ci8 (local.get $ci))))
                (else
                  (loop $loop_ci4
                    (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (v128.load32_splat (local.get $xb)) (v128.load (local.get $wb)))))
                    (local.set $xb (i32.add (local.get $xb) (i32.const 4)))
                    (local.set $wb (i32.add (local.get $wb) (local.get $wstride)))
                    (local.set $ci (i32.sub (local.get $ci) (i32.const 1)))
                    (br_if $loop_ci4 (local.get $ci)))))
              (local.set $c (i32.add (local.get $c) (i32.const 1)))
              (br $loop_c)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $loop_r)))
          (v128.store (i32.add (local.get $ybase) (i32.shl (local.get $co) (i32.const 2))) (local.get $acc))
          (if (local.get $wide)
            (then
              (v128.store offset=16 (i32.add (local.get $ybase) (i32.shl (local.get $co) (i32.const 2))) (local.get $acc2))
              (local.set $co (i32.add (local.get $co) (i32.const 8))))
            (else (local.set $co (i32.add (local.get $co) (i32.const 4)))))
          (br_if $loop_co (i32.lt_s (local.get $co) (local.get $cout))))
        (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
        (br_if $loop_ox (i32.lt_s (local.get $ox) (local.get $wout))))
      (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
      (br_if $loop_oy (i32.lt_s (local.get $oy) (local.get $hout))))))
