import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { Route, Routes } from 'react-router-dom';
import { describe, expect, it, vi } from 'vitest';
import type { KnowledgeEntry, KnowledgeProposal, Role } from '../api/types';
import { type RecordedRequest, jsonResponse } from '../test/fakeFetch';
import { entry, proposal } from '../test/knowledgeFixtures';
import { renderWithSession } from '../test/renderWithSession';
import { KnowledgePage } from './KnowledgePage';

const BASE = '/api/tenants/clinica/knowledge';

const priceList = entry({ entry_id: 'e-precos', kind: 'price_list', title: 'Tabela de preços', content: 'Limpeza de pele: R$ 180\nPeeling: R$ 250' });
const qa = entry({
  entry_id: 'e-sabado',
  kind: 'qa',
  title: 'Atendimento no sábado',
  question: 'Vocês atendem no sábado?',
  answer: 'Sim, das 8h às 12h.',
  source: 'learned',
});
const pdf = entry({
  entry_id: 'e-pdf',
  kind: 'file',
  title: 'Política de cancelamento',
  content: 'Cancelamentos com 24 horas de antecedência não são cobrados.',
  content_chars: 12_345,
  source: 'upload',
  filename: 'cancelamento.pdf',
  mime_type: 'application/pdf',
  size_bytes: 1536,
  chunk_count: 3,
  embedding_model: 'text-embedding-004',
});

const answered = proposal({
  proposal_id: 'p1',
  conversation_id: 'c-mariana',
  question: 'Vocês parcelam no cartão?',
  answer: 'Sim, em até 3 vezes sem juros.',
  status: 'proposed',
  answered_by_email: 'bruno@clinica.com',
  answered_at: '2026-11-22T13:05:00Z',
});
const waiting = proposal({ proposal_id: 'p2', question: 'Tem estacionamento?', status: 'open' });

interface ServerState {
  entries: KnowledgeEntry[];
  proposals: KnowledgeProposal[];
  offline: boolean;
}

/** An in-memory knowledge API per the issue 7 shapes; `override` answers first when it returns a response. */
function server(state: ServerState, override?: (request: RecordedRequest) => Response | undefined) {
  return (request: RecordedRequest): Response => {
    const early = override?.(request);
    if (early) return early;
    const { method, path } = request;
    const url = new URL(request.url, 'http://console.test');
    if (method === 'GET' && path === BASE) {
      return jsonResponse(200, { entries: state.entries, embedding_model: 'offline-hash-ngrams-v1', offline: state.offline });
    }
    if (method === 'GET' && path === `${BASE}/proposals`) {
      return jsonResponse(200, { proposals: state.proposals.filter((item) => item.status === url.searchParams.get('status')) });
    }
    if (method === 'POST' && path === BASE) {
      const created = entry({ entry_id: `e-${state.entries.length + 1}`, ...(request.body as Partial<KnowledgeEntry>) } as KnowledgeEntry);
      state.entries = [...state.entries, created];
      return jsonResponse(201, created);
    }
    if (method === 'POST' && path === `${BASE}/files`) {
      const body = request.body as { filename: string; title?: string };
      const created = entry({ entry_id: 'e-file', kind: 'file', title: body.title ?? body.filename, filename: body.filename, source: 'upload' });
      state.entries = [...state.entries, created];
      return jsonResponse(201, created);
    }
    if (method === 'POST' && path === `${BASE}/search`) {
      const query = (request.body as { query: string }).query;
      return jsonResponse(200, {
        min_score: 0.35,
        embedding_model: 'offline-hash-ngrams-v1',
        results: query.includes('limpeza') ? [{ entry_id: 'e-precos', title: 'Tabela de preços', kind: 'price_list', text: 'Limpeza de pele: R$ 180', score: 0.8731 }] : [],
      });
    }
    const approve = /^\/api\/tenants\/clinica\/knowledge\/proposals\/([^/]+)\/(approve|reject)$/.exec(path);
    if (method === 'POST' && approve) {
      const target = state.proposals.find((item) => item.proposal_id === approve[1])!;
      const updated = { ...target, status: approve[2] === 'approve' ? ('approved' as const) : ('rejected' as const), entry_id: approve[2] === 'approve' ? 'e-new' : null };
      state.proposals = state.proposals.map((item) => (item.proposal_id === target.proposal_id ? updated : item));
      return approve[2] === 'approve' ? jsonResponse(200, { proposal: updated, entry: entry({ entry_id: 'e-new', kind: 'qa', title: 'x' }) }) : jsonResponse(200, updated);
    }
    const one = /^\/api\/tenants\/clinica\/knowledge\/([^/]+)$/.exec(path);
    if (one && method === 'PUT') {
      const updated = { ...state.entries.find((item) => item.entry_id === one[1])!, ...(request.body as object) };
      state.entries = state.entries.map((item) => (item.entry_id === one[1] ? updated : item));
      return jsonResponse(200, updated);
    }
    if (one && method === 'DELETE') {
      state.entries = state.entries.filter((item) => item.entry_id !== one[1]);
      return new Response(null, { status: 204 });
    }
    return jsonResponse(404, { error: { code: 'not_found', message: `${method} ${path}`, field: null, details: [] } });
  };
}

function renderPage(state: ServerState, { role = 'owner' as Role, path = '/conhecimento', override }: { role?: Role; path?: string; override?: (request: RecordedRequest) => Response | undefined } = {}) {
  return renderWithSession(
    <Routes>
      <Route path="/conhecimento/:tab?" element={<KnowledgePage />} />
      <Route path="/conversas/:conversationId" element={<div data-testid="inbox-stub" />} />
    </Routes>,
    server(state, override),
    { role, path },
  );
}

const posts = (requests: RecordedRequest[]) => requests.filter((r) => r.method !== 'GET').map((r) => [r.method, r.path, r.body]);

describe('KnowledgePage entries', () => {
  it('lists every kind of entry with its origin and index, and labels offline embeddings', async () => {
    renderPage({ entries: [priceList, qa, pdf], proposals: [], offline: true });
    const cards = await screen.findAllByTestId('knowledge-entry');
    expect(cards.map((card) => card.getAttribute('data-entry-id'))).toEqual(['e-precos', 'e-sabado', 'e-pdf']);
    expect(cards[0]!.textContent).toContain('Tabela de preços');
    expect(cards[0]!.textContent).toContain('Limpeza de pele: R$ 180');
    expect(cards[1]!.textContent).toContain('Vocês atendem no sábado?');
    expect(cards[1]!.textContent).toContain('aprendida de um atendimento');
    expect(within(cards[2]!).getByTestId('knowledge-entry-file').textContent).toBe('cancelamento.pdf · 1,5 KB');
    expect(within(cards[2]!).getByTestId('knowledge-entry-chunks').textContent).toBe('3 trechos');
    expect(cards[2]!.textContent).toContain('indexada com text-embedding-004'); // not the current model
    expect(cards[2]!.textContent).toContain('(prévia; o arquivo tem 12.345 caracteres de texto)');
    expect(cards[0]!.textContent).not.toContain('prévia');
    expect(within(cards[2]!).queryByTestId('knowledge-edit')).toBeNull(); // a file is replaced, not edited
    expect(screen.getByTestId('knowledge-offline').textContent).toBe('embeddings offline');
    expect(screen.getByTestId('knowledge-model').textContent).toContain('offline-hash-ngrams-v1');
  });

  it('has no offline label when the embeddings are Vertex AI', async () => {
    renderPage({ entries: [], proposals: [], offline: false });
    expect(await screen.findByTestId('knowledge-list-empty')).toBeTruthy();
    expect(screen.queryByTestId('knowledge-offline')).toBeNull();
  });

  it('creates a question/answer pair and a price list with the contract bodies, then shows them', async () => {
    const state: ServerState = { entries: [], proposals: [], offline: true };
    const { requests } = renderPage(state);
    fireEvent.click(await screen.findByTestId('knowledge-new'));
    fireEvent.change(screen.getByTestId('knowledge-title'), { target: { value: ' Parcelamento ' } });
    fireEvent.change(screen.getByTestId('knowledge-question'), { target: { value: 'Vocês parcelam?' } });
    fireEvent.change(screen.getByTestId('knowledge-answer'), { target: { value: 'Em até 3 vezes sem juros.' } });
    fireEvent.submit(screen.getByTestId('knowledge-form'));
    await waitFor(() => expect(screen.queryByTestId('knowledge-form')).toBeNull());
    expect(await screen.findByText('Parcelamento')).toBeTruthy();

    fireEvent.click(screen.getByTestId('knowledge-new'));
    fireEvent.change(screen.getByTestId('knowledge-kind'), { target: { value: 'price_list' } });
    expect(screen.queryByTestId('knowledge-question')).toBeNull();
    fireEvent.change(screen.getByTestId('knowledge-title'), { target: { value: 'Preços' } });
    fireEvent.change(screen.getByTestId('knowledge-content'), { target: { value: 'Limpeza de pele: R$ 180' } });
    fireEvent.submit(screen.getByTestId('knowledge-form'));
    await waitFor(() => expect(state.entries).toHaveLength(2));
    expect(posts(requests)).toEqual([
      ['POST', BASE, { kind: 'qa', title: 'Parcelamento', question: 'Vocês parcelam?', answer: 'Em até 3 vezes sem juros.' }],
      ['POST', BASE, { kind: 'price_list', title: 'Preços', content: 'Limpeza de pele: R$ 180' }],
    ]);
  });

  it("shows the server's field errors beside the fields and keeps the form", async () => {
    renderPage(
      { entries: [], proposals: [], offline: true },
      {
        override: (request) =>
          request.method === 'POST'
            ? jsonResponse(422, {
                error: { code: 'validation_failed', message: 'content: required', field: 'content', details: [{ field: 'content', reason: 'Field required' }] },
              })
            : undefined,
      },
    );
    fireEvent.click(await screen.findByTestId('knowledge-new'));
    fireEvent.change(screen.getByTestId('knowledge-kind'), { target: { value: 'policy' } });
    fireEvent.change(screen.getByTestId('knowledge-title'), { target: { value: 'Garantia' } });
    fireEvent.change(screen.getByTestId('knowledge-content'), { target: { value: ' ' } });
    fireEvent.submit(screen.getByTestId('knowledge-form'));
    expect((await screen.findByTestId('field-error-content')).textContent).toBe('Field required');
    expect(screen.getByTestId('knowledge-form')).toBeTruthy();
    expect(screen.getByTestId('error-banner').textContent).toBe('Alguns campos estão inválidos.');
  });

  it('edits an entry with PUT and deletes one after confirming', async () => {
    const confirm = vi.spyOn(window, 'confirm').mockReturnValue(true);
    const state: ServerState = { entries: [priceList, qa], proposals: [], offline: true };
    const { requests } = renderPage(state);
    const cards = await screen.findAllByTestId('knowledge-entry');
    fireEvent.click(within(cards[1]!).getByTestId('knowledge-edit'));
    expect((screen.getByTestId('knowledge-answer') as HTMLTextAreaElement).value).toBe('Sim, das 8h às 12h.');
    fireEvent.change(screen.getByTestId('knowledge-answer'), { target: { value: 'Sim, das 8h às 13h.' } });
    fireEvent.submit(screen.getByTestId('knowledge-form'));
    expect(await screen.findByText('Sim, das 8h às 13h.')).toBeTruthy();
    fireEvent.click(within(screen.getAllByTestId('knowledge-entry')[0]!).getByTestId('knowledge-delete'));
    expect(confirm).toHaveBeenCalledWith('Excluir "Tabela de preços"? O agente deixa de usar esta informação.');
    await waitFor(() => expect(screen.getAllByTestId('knowledge-entry')).toHaveLength(1));
    expect(posts(requests)).toEqual([
      ['PUT', `${BASE}/e-sabado`, { kind: 'qa', title: 'Atendimento no sábado', question: 'Vocês atendem no sábado?', answer: 'Sim, das 8h às 13h.' }],
      ['DELETE', `${BASE}/e-precos`, undefined],
    ]);
  });

  it('keeps an entry when the deletion is not confirmed', async () => {
    vi.spyOn(window, 'confirm').mockReturnValue(false);
    const { requests } = renderPage({ entries: [priceList], proposals: [], offline: true });
    fireEvent.click(await screen.findByTestId('knowledge-delete'));
    expect(posts(requests)).toEqual([]);
  });

  it('uploads a file as base64, and refuses a wrong type without sending', async () => {
    const state: ServerState = { entries: [], proposals: [], offline: true };
    const { requests } = renderPage(state);
    fireEvent.click(await screen.findByTestId('knowledge-upload'));
    const input = screen.getByTestId('knowledge-file');
    fireEvent.change(input, { target: { files: [new File(['x'], 'foto.jpg', { type: 'image/jpeg' })] } });
    expect(screen.getByTestId('knowledge-file-problem').textContent).toBe('Tipo de arquivo não aceito: envie PDF, DOCX, TXT, Markdown ou CSV.');
    expect((screen.getByTestId('knowledge-upload-submit') as HTMLButtonElement).disabled).toBe(true);

    fireEvent.change(input, { target: { files: [new File(['Garantia de 90 dias.'], 'garantia.txt', { type: 'text/plain' })] } });
    expect(screen.queryByTestId('knowledge-file-problem')).toBeNull();
    fireEvent.change(screen.getByTestId('knowledge-file-title'), { target: { value: 'Garantia' } });
    fireEvent.submit(screen.getByTestId('knowledge-upload-form'));
    expect(await screen.findByText('Garantia')).toBeTruthy();
    expect(posts(requests)).toEqual([
      ['POST', `${BASE}/files`, { filename: 'garantia.txt', mime_type: 'text/plain', content_base64: btoa('Garantia de 90 dias.'), title: 'Garantia' }],
    ]);
  });

  it.each([
    [413, 'payload_too_large', null, 'the file is larger than 10 MB', 'O arquivo passa do limite de 10 MB (tem 5 B).'],
    [415, 'unsupported_media_type', null, 'unsupported', 'Tipo de arquivo não aceito: envie PDF, DOCX, TXT, Markdown ou CSV.'],
    [422, 'validation_failed', 'mime_type', 'application/zip is not a document this reads', 'Tipo de arquivo não aceito: envie PDF, DOCX, TXT, Markdown ou CSV.'],
    [422, 'validation_failed', 'content_base64', 'the PDF is encrypted', 'Não foi possível ler o texto deste arquivo.'],
    [422, 'validation_failed', 'content_base64', 'the file has more than 150000 characters of text; split it', 'O arquivo tem texto demais para uma entrada: divida-o em partes.'],
  ])('explains a %i refusal of the file (%s %s) in terms of the file', async (status, code, field, message, text) => {
    renderPage(
      { entries: [], proposals: [], offline: true },
      {
        override: (request) =>
          request.path.endsWith('/files')
            ? jsonResponse(status, { error: { code, message, field, details: field ? [{ field, reason: message }] : [] } })
            : undefined,
      },
    );
    fireEvent.click(await screen.findByTestId('knowledge-upload'));
    fireEvent.change(screen.getByTestId('knowledge-file'), { target: { files: [new File(['%PDF-'], 'exame.pdf', { type: 'application/pdf' })] } });
    fireEvent.submit(screen.getByTestId('knowledge-upload-form'));
    const banner = await screen.findByTestId('error-banner');
    expect(banner.textContent).toBe(field ? `${text}${message}` : text); // the server's reason is listed too
    expect(banner.getAttribute('data-code')).toBe(code);
    expect(screen.getByTestId('knowledge-upload-form')).toBeTruthy();
  });
});

describe('KnowledgePage search', () => {
  it('shows what the agent would find, with its score, or that it would hand off', async () => {
    const { requests } = renderPage({ entries: [priceList], proposals: [], offline: true }, { path: '/conhecimento/busca' });
    expect((await screen.findByTestId('knowledge-tab-search')).getAttribute('aria-selected')).toBe('true');
    fireEvent.change(screen.getByTestId('knowledge-search-input'), { target: { value: ' quanto custa a limpeza? ' } });
    fireEvent.submit(screen.getByTestId('knowledge-search-input').closest('form')!);
    const result = await screen.findByTestId('knowledge-search-result');
    expect(result.getAttribute('data-entry-id')).toBe('e-precos');
    expect(result.textContent).toContain('Limpeza de pele: R$ 180');
    expect(result.textContent).toContain('Relevância: 0,87');
    expect(screen.getByTestId('knowledge-search-min-score').textContent).toBe('Trechos com relevância abaixo de 0,35 não chegam ao agente.');
    fireEvent.change(screen.getByTestId('knowledge-search-input'), { target: { value: 'tem estacionamento?' } });
    fireEvent.submit(screen.getByTestId('knowledge-search-input').closest('form')!);
    expect((await screen.findByTestId('knowledge-search-empty')).textContent).toContain('passaria a conversa para um humano');
    expect(posts(requests)).toEqual([
      ['POST', `${BASE}/search`, { query: 'quanto custa a limpeza?' }],
      ['POST', `${BASE}/search`, { query: 'tem estacionamento?' }],
    ]);
  });
});

describe('KnowledgePage learning from handoffs', () => {
  it('counts the answers to review on the tab and approves one as it is', async () => {
    const state: ServerState = { entries: [], proposals: [answered, waiting], offline: true };
    const { requests } = renderPage(state, { path: '/conhecimento/aprendizado' });
    expect((await screen.findByTestId('proposal-count')).textContent).toBe('1');
    const card = await screen.findByTestId('proposal');
    expect(card.getAttribute('data-proposal-id')).toBe('p1');
    expect(card.textContent).toContain('Vocês parcelam no cartão?');
    expect(card.textContent).toContain('Sim, em até 3 vezes sem juros.');
    expect(card.textContent).toContain('Respondido por bruno@clinica.com');
    fireEvent.click(within(card).getByTestId('proposal-approve'));
    await waitFor(() => expect(screen.queryByTestId('proposal-count')).toBeNull());
    expect(await screen.findByTestId('proposal-list-empty')).toBeTruthy();
    expect(posts(requests)).toEqual([['POST', `${BASE}/proposals/p1/approve`, {}]]);
    // The approval refreshed the entries too (the new entry shows on the Base tab without waiting).
    expect(requests.filter((r) => r.method === 'GET' && r.path === BASE).length).toBeGreaterThanOrEqual(2);
  });

  it('edits then approves with only the changed values, and rejects after confirming', async () => {
    vi.spyOn(window, 'confirm').mockReturnValue(true);
    const second = { ...answered, proposal_id: 'p3', question: 'Aceitam Pix?', answer: 'Sim.' };
    const { requests } = renderPage({ entries: [], proposals: [answered, second], offline: true }, { path: '/conhecimento/aprendizado' });
    const [first, other] = await screen.findAllByTestId('proposal');
    fireEvent.click(within(first!).getByTestId('proposal-edit'));
    expect((within(first!).getByTestId('proposal-title') as HTMLInputElement).value).toBe('Vocês parcelam no cartão?');
    fireEvent.change(within(first!).getByTestId('proposal-answer'), { target: { value: 'Sim, em até 3x sem juros no cartão de crédito.' } });
    fireEvent.change(within(first!).getByTestId('proposal-title'), { target: { value: 'Parcelamento' } });
    fireEvent.click(within(first!).getByTestId('proposal-approve-edited'));
    await waitFor(() => expect(posts(requests)).toHaveLength(1));
    fireEvent.click(within(other!).getByTestId('proposal-reject'));
    await waitFor(() => expect(posts(requests)).toHaveLength(2));
    expect(posts(requests)).toEqual([
      ['POST', `${BASE}/proposals/p1/approve`, { answer: 'Sim, em até 3x sem juros no cartão de crédito.', title: 'Parcelamento' }],
      ['POST', `${BASE}/proposals/p3/reject`, {}],
    ]);
  });

  it('lists open questions without review actions, and links each to its conversation', async () => {
    const { requests } = renderPage({ entries: [], proposals: [answered, waiting], offline: true }, { path: '/conhecimento/aprendizado' });
    await screen.findByTestId('proposal');
    fireEvent.change(screen.getByTestId('proposal-status-filter'), { target: { value: 'open' } });
    const card = await waitFor(() => {
      const found = screen.getByTestId('proposal');
      expect(found.getAttribute('data-status')).toBe('open');
      return found;
    });
    expect(requests.some((r) => r.url === `${BASE}/proposals?status=open`)).toBe(true);
    expect(card.textContent).toContain('Aguardando a resposta de um vendedor.');
    expect(within(card).queryByTestId('proposal-approve')).toBeNull();
    fireEvent.click(within(card).getByTestId('proposal-conversation'));
    expect(await screen.findByTestId('inbox-stub')).toBeTruthy();
  });
});

describe('KnowledgePage for sellers', () => {
  it('reads and searches but does not write or review', async () => {
    const { requests } = renderPage({ entries: [priceList], proposals: [answered], offline: true }, { role: 'seller', path: '/conhecimento/aprendizado' });
    expect(await screen.findByTestId('knowledge-entry')).toBeTruthy(); // the learning tab falls back to Base
    expect(screen.queryByTestId('knowledge-new')).toBeNull();
    expect(screen.queryByTestId('knowledge-upload')).toBeNull();
    expect(screen.queryByTestId('knowledge-delete')).toBeNull();
    expect(screen.queryByTestId('knowledge-tab-learning')).toBeNull();
    expect(screen.getByTestId('knowledge-tab-search')).toBeTruthy();
    expect(requests.some((r) => r.path.includes('/proposals'))).toBe(false);
  });
});
