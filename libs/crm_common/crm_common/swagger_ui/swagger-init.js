// Starts Swagger UI on the document named by the page (no inline script: the page's
// Content-Security-Policy allows scripts from this origin only).
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,          // never call validator.swagger.io
    persistAuthorization: false  // a pasted token is not written to localStorage
  });
});
