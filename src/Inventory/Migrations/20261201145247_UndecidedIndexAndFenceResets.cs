using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Pipeline.Inventory.Migrations
{
    /// <inheritdoc />
    public partial class UndecidedIndexAndFenceResets : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "fence_resets",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    resource = table.Column<string>(type: "text", nullable: false),
                    @operator = table.Column<string>(name: "operator", type: "text", nullable: false),
                    from_generation = table.Column<long>(type: "bigint", nullable: false),
                    from_epoch = table.Column<long>(type: "bigint", nullable: false),
                    to_generation = table.Column<long>(type: "bigint", nullable: false),
                    to_epoch = table.Column<long>(type: "bigint", nullable: false),
                    reason = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_fence_resets", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_orders_undecided_received_at",
                table: "orders",
                column: "received_at",
                filter: "status = 'Received'");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "fence_resets");

            migrationBuilder.DropIndex(
                name: "ix_orders_undecided_received_at",
                table: "orders");
        }
    }
}
