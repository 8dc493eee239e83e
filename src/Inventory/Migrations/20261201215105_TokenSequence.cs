using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Pipeline.Inventory.Migrations
{
    /// <summary>One vocabulary for the token: (generation, sequence) in the ledger, the fence, its audits and fence_bump, as
    /// in the election and the events. fence_bump is dropped and created again (a parameter cannot be renamed in place), so
    /// its EXECUTE grant to the service role comes back with <c>migrate --grant-to</c>, which every deployment runs.</summary>
    public partial class TokenSequence : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.RenameColumn(
                name: "epoch",
                table: "leader_fence",
                newName: "sequence");

            migrationBuilder.RenameColumn(
                name: "epoch",
                table: "inventory_commits",
                newName: "sequence");

            migrationBuilder.RenameColumn(
                name: "to_epoch",
                table: "fence_resets",
                newName: "to_sequence");

            migrationBuilder.RenameColumn(
                name: "from_epoch",
                table: "fence_resets",
                newName: "from_sequence");

            migrationBuilder.RenameColumn(
                name: "epoch",
                table: "fence_rejections",
                newName: "sequence");

            migrationBuilder.RenameColumn(
                name: "current_epoch",
                table: "fence_rejections",
                newName: "current_sequence");

            migrationBuilder.Sql("""
                DROP FUNCTION IF EXISTS fence_bump(bigint, bigint, text, text);
                CREATE FUNCTION fence_bump(p_generation bigint, p_sequence bigint, p_holder text, p_resource text)
                RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
                BEGIN
                    UPDATE leader_fence SET generation = p_generation, sequence = p_sequence, holder = p_holder, updated_at = now()
                    WHERE resource = p_resource AND (generation, sequence) <= (p_generation, p_sequence);
                    RETURN FOUND;
                END $$;
                REVOKE ALL ON FUNCTION fence_bump(bigint, bigint, text, text) FROM PUBLIC;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.RenameColumn(
                name: "sequence",
                table: "leader_fence",
                newName: "epoch");

            migrationBuilder.RenameColumn(
                name: "sequence",
                table: "inventory_commits",
                newName: "epoch");

            migrationBuilder.RenameColumn(
                name: "to_sequence",
                table: "fence_resets",
                newName: "to_epoch");

            migrationBuilder.RenameColumn(
                name: "from_sequence",
                table: "fence_resets",
                newName: "from_epoch");

            migrationBuilder.RenameColumn(
                name: "sequence",
                table: "fence_rejections",
                newName: "epoch");

            migrationBuilder.RenameColumn(
                name: "current_sequence",
                table: "fence_rejections",
                newName: "current_epoch");

            migrationBuilder.Sql("""
                DROP FUNCTION IF EXISTS fence_bump(bigint, bigint, text, text);
                CREATE FUNCTION fence_bump(p_generation bigint, p_epoch bigint, p_holder text, p_resource text)
                RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
                BEGIN
                    UPDATE leader_fence SET generation = p_generation, epoch = p_epoch, holder = p_holder, updated_at = now()
                    WHERE resource = p_resource AND (generation, epoch) <= (p_generation, p_epoch);
                    RETURN FOUND;
                END $$;
                REVOKE ALL ON FUNCTION fence_bump(bigint, bigint, text, text) FROM PUBLIC;
                """);
        }

    }
}
