// What the console's page gives its modules besides the DOM: the vendored barcode script
// (console/vendor/jsbarcode-3.12.3, loaded by a classic <script> tag before the modules).
interface Window {
  JsBarcode?: (element: Element, text: string, options: Record<string, unknown>) => void;
}
