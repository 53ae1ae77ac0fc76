;; A component written by hand in the component text format. It has a plain-named function
;; import, an interface import, a nested core module, a plain-named function export, an export
;; with an ascribed type and an interface export built from an inline instance.
(component
  (import "log" (func $log (param "message" string)))
  (import "wasi:cli/environment@0.2.0" (instance $environment
    (export "initial-cwd" (func (result (option string))))))
  (core module $impl
    (func (export "run")))
  (core instance $impl-instance (instantiate $impl))
  (type $run-type (func))
  (func $run (type $run-type) (canon lift (core func $impl-instance "run")))
  (export $run-export "run" (func $run))
  (export "start" (func $run) (func (type $run-type)))
  (instance $runner (export "run" (func $run-export)))
  (export "example:demo/runner@1.0.0" (instance $runner)))
