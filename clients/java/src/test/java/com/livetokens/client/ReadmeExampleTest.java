package com.livetokens.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ReadmeExampleTest {
  @Test
  void theReadmeShowsExactlyTheExampleThatTheContractTestRuns() throws IOException {
    // Surefire runs in the module directory (clients/java).
    String readme = Files.readString(Path.of("README.md"));
    String example =
        Files.readString(Path.of("src/test/java/com/livetokens/example/MintExample.java"));

    int start = readme.indexOf("```java\n");
    int end = readme.indexOf("```\n", start + 1);
    assertEquals(true, start >= 0 && end > start, "README.md has a ```java block");
    assertEquals(example, readme.substring(start + "```java\n".length(), end));
  }
}
