import { Controller, Get, Header } from '@nestjs/common';
import { Public } from '../auth/auth.decorators.js';
import { DOCS_CSP, renderDocsPage } from './docs-page.js';
import { openApiDocument, type OpenApiDocument } from './openapi.document.js';

/** The API described (`GET /openapi.json`, OpenAPI 3.1) and the same as a page (`GET /docs`). */
@Controller()
@Public()
export class OpenApiController {
  private readonly document = openApiDocument();
  private readonly page = renderDocsPage(this.document);

  @Get('openapi.json')
  @Header('Cache-Control', 'no-cache')
  json(): OpenApiDocument {
    return this.document;
  }

  @Get('docs')
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', DOCS_CSP)
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Referrer-Policy', 'no-referrer')
  @Header('Cache-Control', 'no-cache')
  docs(): string {
    return this.page;
  }
}
