import { describe, expect, it } from 'vitest';
import { MAX_FILE_BYTES, fileProblem, fileSize, mimeTypeOf, uploadBody } from './fileUpload';

describe('knowledge file checks', () => {
  it('declares the MIME type by extension, whatever the browser says', () => {
    expect(mimeTypeOf({ name: 'Tabela.PDF', type: '' })).toBe('application/pdf');
    expect(mimeTypeOf({ name: 'politica.docx', type: '' })).toBe('application/vnd.openxmlformats-officedocument.wordprocessingml.document');
    expect(mimeTypeOf({ name: 'faq', type: 'text/plain;charset=utf-8' })).toBe('text/plain');
    expect(mimeTypeOf({ name: 'faq.md', type: '' })).toBe('text/markdown');
    expect(mimeTypeOf({ name: 'precos.csv', type: 'application/vnd.ms-excel' })).toBe('text/csv');
    expect(mimeTypeOf({ name: 'foto.jpg', type: 'image/jpeg' })).toBeNull();
    expect(mimeTypeOf({ name: 'antigo.doc', type: 'application/msword' })).toBeNull();
  });

  it('refuses other types and files over 10 MB before sending', () => {
    expect(fileProblem({ name: 'foto.png', type: 'image/png', size: 10 })).toBe('Tipo de arquivo não aceito: envie PDF, DOCX, TXT, Markdown ou CSV.');
    expect(fileProblem({ name: 'grande.pdf', type: 'application/pdf', size: MAX_FILE_BYTES + 1 })).toMatch(/^O arquivo passa do limite de 10 MB/);
    expect(fileProblem({ name: 'maior.pdf', type: 'application/pdf', size: 12 * 1024 * 1024 })).toBe('O arquivo passa do limite de 10 MB (tem 12 MB).');
    expect(fileProblem({ name: 'ok.pdf', type: 'application/pdf', size: MAX_FILE_BYTES })).toBeNull();
  });

  it('writes sizes in Portuguese', () => {
    expect(fileSize(512)).toBe('512 B');
    expect(fileSize(1536)).toBe('1,5 KB');
    expect(fileSize(null)).toBe('—');
  });

  it('sends the file as base64 with its name, type and an optional title', async () => {
    const file = new File(['Limpeza de pele: R$ 180\n'], 'precos.txt', { type: 'text/plain' });
    const body = await uploadBody(file, '  Preços  ');
    expect(body).toEqual({
      filename: 'precos.txt',
      mime_type: 'text/plain',
      content_base64: Buffer.from('Limpeza de pele: R$ 180\n').toString('base64'),
      title: 'Preços',
    });
    expect('title' in (await uploadBody(file, ' '))).toBe(false);
  });
});
