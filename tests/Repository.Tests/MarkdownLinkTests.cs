using System.Text.RegularExpressions;

namespace Pipeline.Repository.Tests;

/// <summary>
/// Every relative link of every Markdown file tracked in the repository resolves to a file or folder inside it: a clone has
/// nothing beside it (no <c>../shared</c>), so a link that leaves the repository, or names a file that moved, is dead for
/// every reader. Links to web addresses and in-page anchors are not checked here.
/// </summary>
public sealed partial class MarkdownLinkTests
{
    [Fact]
    public void Every_relative_link_of_every_Markdown_file_resolves_inside_the_repository()
    {
        var root = RepositoryRoot();
        var files = Directory.EnumerateFiles(root, "*.md", SearchOption.AllDirectories)
            .Where(f => !Ignored(Path.GetRelativePath(root, f)))
            .ToList();
        Assert.Contains(files, f => Path.GetFileName(f) == "README.md");
        var dead = new List<string>();
        foreach (var file in files)
        {
            var text = File.ReadAllText(file);
            foreach (Match link in Link().Matches(text))
            {
                var target = link.Groups["target"].Value.Trim();
                if (target.Length == 0 || target.StartsWith('#') || Uri.TryCreate(target, UriKind.Absolute, out var absolute) && absolute.Scheme is "http" or "https" or "mailto")
                {
                    continue;
                }

                // A link to another folder is written from the repository root (/deploy/README.md), as GitHub resolves it:
                // a ../ link reads as one that leaves the repository.
                var path = Uri.UnescapeDataString(target.Split('#', 2)[0].Split('?', 2)[0]);
                var resolved = Path.GetFullPath(path.StartsWith('/') ? Path.Combine(root, path.TrimStart('/')) : Path.Combine(Path.GetDirectoryName(file)!, path));
                var relative = Path.GetRelativePath(root, resolved);
                if (path.Split('/').Contains(".."))
                {
                    dead.Add($"{Path.GetRelativePath(root, file)}: {target} climbs with ../; write it from the repository root (/{relative})");
                }
                else if (relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative))
                {
                    dead.Add($"{Path.GetRelativePath(root, file)}: {target} leaves the repository");
                }
                else if (!File.Exists(resolved) && !Directory.Exists(resolved))
                {
                    dead.Add($"{Path.GetRelativePath(root, file)}: {target} does not exist");
                }
            }
        }

        Assert.True(dead.Count == 0, $"{dead.Count} dead links in {files.Count} Markdown files:\n{string.Join("\n", dead)}");
    }

    private static bool Ignored(string relative) =>
        relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj" or "node_modules" or ".git" or "TestResults" or ".demo");

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Pipeline.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Pipeline.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>Inline links and images: [text](target "title") and ![alt](target).</summary>
    [GeneratedRegex(@"!?\[(?:[^\]\\]|\\.)*\]\((?<target>[^)\s]+)(?:\s+""[^""]*"")?\)")]
    private static partial Regex Link();
}
