#pragma once
// Embeddings as an Arrow IPC stream: one non-null column "embedding" of type
// FixedSizeList<float32>[dim], one row per text, with "model" and "dim" in the schema metadata.
#include <string>

#include "lakehouse/aibridge/aibridge.h"

namespace lakehouse::aibridge {

//! The whole IPC stream (schema message, one record batch, end-of-stream marker).
std::string EmbeddingsToArrowIpc(const Embeddings& embeddings);

}  // namespace lakehouse::aibridge
