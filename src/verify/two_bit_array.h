// TwoBitArray: a growable array of 2-bit cells indexed by a dense uint64 position, stored in
// fixed-size chunks that are allocated on first write, so that memory follows the highest index
// written (0.25 byte per cell) and growth never copies cells. Internal to the delivery ledger.
// Not thread-safe: one writer, and readers only after the writer is done.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace drone::verify {

class TwoBitArray {
 public:
  static constexpr int kCellsPerWordLog2 = 5;  // 32 cells of 2 bits per uint64_t
  static constexpr uint64_t kCellsPerWord = uint64_t{1} << kCellsPerWordLog2;
  // 4096 cells (1 KiB) per chunk: small enough that thousands of short domains stay cheap, large
  // enough that the chunk table (8 bytes per chunk) is noise.
  static constexpr int kCellsPerChunkLog2 = 12;
  static constexpr uint64_t kCellsPerChunk = uint64_t{1} << kCellsPerChunkLog2;
  static constexpr uint64_t kWordsPerChunk = kCellsPerChunk / kCellsPerWord;

  TwoBitArray() = default;
  TwoBitArray(TwoBitArray&&) noexcept = default;
  TwoBitArray& operator=(TwoBitArray&&) noexcept = default;

  // One past the highest index ever passed to MutableWord; 0 if none.
  uint64_t size() const { return size_; }
  uint64_t word_count() const { return (size_ + kCellsPerWord - 1) / kCellsPerWord; }

  // The value of cell `index`; 0 for cells never written.
  uint8_t Get(uint64_t index) const {
    return static_cast<uint8_t>((Word(index >> kCellsPerWordLog2) >> Shift(index)) & 3);
  }

  // Word `w` (cells 32w .. 32w+31, cell i at bits 2i..2i+1); 0 where nothing was written.
  uint64_t Word(uint64_t w) const {
    const uint64_t chunk = w / kWordsPerChunk;
    if (chunk >= chunks_.size() || chunks_[chunk] == nullptr) return 0;
    return chunks_[chunk][w % kWordsPerChunk];
  }

  // The word holding cell `index`, allocating its chunk if needed, and marks the cell as used
  // for size(). Callers change the cell with Shift(index).
  uint64_t& MutableWord(uint64_t index) {
    const uint64_t chunk = index >> kCellsPerChunkLog2;
    if (chunk >= chunks_.size() || chunks_[chunk] == nullptr) [[unlikely]] {
      AllocateChunk(chunk);
    }
    if (index >= size_) size_ = index + 1;
    return chunks_[chunk][(index >> kCellsPerWordLog2) & (kWordsPerChunk - 1)];
  }

  // Overwrites word `w` (used by decoders and merges). A zero word allocates nothing. Does not
  // change size(); see ExtendSize().
  void SetWord(uint64_t w, uint64_t value) {
    const uint64_t chunk = w / kWordsPerChunk;
    if (chunk >= chunks_.size() || chunks_[chunk] == nullptr) {
      if (value == 0) return;
      AllocateChunk(chunk);
    }
    chunks_[chunk][w % kWordsPerChunk] = value;
  }
  // size() becomes at least `size` (a decoded or merged array keeps its writer's size()).
  void ExtendSize(uint64_t size) {
    if (size > size_) size_ = size;
  }

  static int Shift(uint64_t index) { return static_cast<int>((index & (kCellsPerWord - 1)) * 2); }

  // Heap bytes held (chunks and chunk table), excluding sizeof(*this).
  size_t HeapBytes() const {
    return chunks_.capacity() * sizeof(chunks_[0]) +
           allocated_chunks_ * kWordsPerChunk * sizeof(uint64_t);
  }

 private:
  void AllocateChunk(uint64_t chunk) {
    if (chunk >= chunks_.size()) {
      // Doubling keeps the table's amortised cost constant as in-order traffic grows.
      size_t capacity = chunks_.capacity() == 0 ? 4 : chunks_.capacity();
      while (capacity <= chunk) capacity *= 2;
      chunks_.reserve(capacity);
      chunks_.resize(chunk + 1);
    }
    chunks_[chunk] = std::make_unique<uint64_t[]>(kWordsPerChunk);  // zero-initialised
    ++allocated_chunks_;
  }

  std::vector<std::unique_ptr<uint64_t[]>> chunks_;
  size_t allocated_chunks_ = 0;
  uint64_t size_ = 0;
};

}  // namespace drone::verify
