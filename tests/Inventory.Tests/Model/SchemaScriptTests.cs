using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Pipeline.Inventory.Model;
using Pipeline.Testing;

namespace Pipeline.Inventory.Tests.Model;

/// <summary>
/// scripts/sql/inventory-schema.sql is the idempotent script of the migrations, as <c>dotnet ef migrations script
/// --idempotent</c> writes it: generated here the way the tool does (the design-time context, its migrator, no database) and
/// compared line by line, so a migration added without regenerating the script fails with the command that fixes it.
/// </summary>
public sealed class SchemaScriptTests
{
    private const string Script = "scripts/sql/inventory-schema.sql";

    private const string FixCommand =
        "dotnet tool restore && dotnet ef migrations script --idempotent --project src/Inventory --startup-project src/Inventory --output " + Script;

    [Fact]
    public void The_checked_in_schema_script_is_the_idempotent_script_of_the_migrations()
    {
        using var context = new DesignTimeFactory().CreateDbContext([]);
        var generated = Lines(context.GetService<IMigrator>().GenerateScript(options: MigrationsSqlGenerationOptions.Idempotent));
        var checkedIn = Lines(File.ReadAllText(RepositoryRoot.PathOf(Script)));

        var first = Enumerable.Range(0, Math.Max(generated.Length, checkedIn.Length))
            .FirstOrDefault(i => i >= generated.Length || i >= checkedIn.Length || generated[i] != checkedIn[i], -1);
        if (first >= 0)
        {
            Assert.Fail($"{Script} is not the idempotent script of src/Inventory/Migrations (first difference at line {first + 1}: " +
                $"generated '{At(generated, first)}', checked in '{At(checkedIn, first)}'). Regenerate it: {FixCommand}");
        }
    }

    /// <summary>The script's lines; line endings are the only difference tolerated.</summary>
    private static string[] Lines(string sql) => sql.ReplaceLineEndings("\n").Split('\n');

    private static string At(string[] lines, int index) => index < lines.Length ? lines[index] : "(end of file)";
}
