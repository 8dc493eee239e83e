namespace Pipeline.Testing;

/// <summary>The repository's root, the folder holding Pipeline.sln, found upwards from the test assembly: for tests that
/// check files of the repository (manifests, documents, generated scripts) against the code.</summary>
public static class RepositoryRoot
{
    private static string? folder;

    /// <summary>The root; found on first use, so a test that never needs it never fails for want of it.</summary>
    public static string Folder => folder ??= Find();

    /// <summary>The full path of <paramref name="relative"/> (with '/' separators) under the root.</summary>
    public static string PathOf(string relative) => Path.Combine(Folder, relative);

    private static string Find()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Pipeline.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new DirectoryNotFoundException($"no Pipeline.sln above {AppContext.BaseDirectory}");
    }
}
