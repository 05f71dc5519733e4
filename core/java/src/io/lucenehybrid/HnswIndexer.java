package io.lucenehybrid;

import io.anserini.index.AbstractIndexer;
import io.anserini.index.IndexHnswDenseVectors;
import io.anserini.index.generator.DenseVectorDocumentGenerator;
import io.anserini.index.generator.LuceneDocumentGenerator;
import java.io.IOException;
import java.nio.file.Paths;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.store.FSDirectory;

/**
 * Anserini's dense-vector indexer (its collection readers, threads and counters) writing the
 * HNSW format a collection asked for. Anserini's own IndexHnswDenseVectors offers float32 or one
 * scalar quantization; this one takes every format {@link Index#hnswCodec} knows, so a build and
 * the live writer of the same collection write the same format.
 */
public final class HnswIndexer extends AbstractIndexer {
  @SuppressWarnings("unchecked")
  public HnswIndexer(IndexHnswDenseVectors.Args args, String quantization) throws IOException {
    super(args);
    generatorClass =
        (Class<LuceneDocumentGenerator<? extends io.anserini.collection.SourceDocument>>)
            (Class<?>) DenseVectorDocumentGenerator.class;
    // Otherwise Lucene's defaults, as Anserini's indexer has them.
    IndexWriterConfig config = new IndexWriterConfig();
    config.setCodec(Index.hnswCodec(args.M, args.efC, quantization));
    writer = new IndexWriter(FSDirectory.open(Paths.get(args.index)), config);
  }
}
