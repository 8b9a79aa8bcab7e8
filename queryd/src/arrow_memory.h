#pragma once
// Keeps the memory of result buffers mapped between batches (ADR 0012, sixth session).
//
// DuckDB's ArrowAppender allocates each batch's Arrow buffers with malloc (512 KiB per 8-byte
// column of a 64 Ki-row batch), and streamed chunks are freed on other threads than the ones that
// made them. With glibc's defaults those buffers are mmap'ed and unmapped again, or trimmed from
// the top of a heap, and every batch faults its pages in afresh: 5-12 thousand page faults per
// 1M-row result. A fixed mmap threshold of 32 MiB and a trim threshold of 256 MiB keep freed
// buffers in malloc's heaps, to be reused by the next batch.
namespace lakehouse::queryd {

//! Sets malloc's mmap and trim thresholds, once per process (later calls do nothing).
void KeepResultBuffersMapped();

}  // namespace lakehouse::queryd
