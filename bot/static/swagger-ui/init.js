// Swagger UI over this service's own OpenAPI document. Everything it loads comes from this
// server: no CDN, and no online validator (validatorUrl: null would otherwise send the
// document to validator.swagger.io).
window.ui = SwaggerUIBundle({
  url: "v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
});
