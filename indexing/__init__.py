"""The write path of lucene-hybrid: corpus readers, encoders, JVM bootstrap, Lucene writers."""
